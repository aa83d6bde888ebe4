"""Records out of feed documents: GBFS (2.3 and 3.0) and Open311 GeoReport v2 (JSON and XML).

Generic rules, no system names: a GBFS document's records are the list under `data`, and its
top-level `last_updated`, `ttl` and `version` apply to each record; an Open311 document is a list
of requests. Localised texts (GBFS 3.0: `[{"text": ..., "language": ...}]`) become their first text.
A listed record that is not an object, or in which an object names a key twice (JSON) or a
request names a field twice (XML), is `Refused` with its reason rather than guessed at.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from assets.ingest.batches import UnreadableFile
from assets.registry import Contract

DOCUMENT_FIELDS = ("last_updated", "ttl", "version")


@dataclass(frozen=True)
class Refused:
    """A listed record that cannot be loaded: its text and why."""

    raw: str
    reason: str


def document_records(text: str, contract: Contract) -> list[dict[str, Any] | Refused]:
    """The records of one document, by the contract's file format, in the document's order."""
    fmt = contract.settings.file_format
    if fmt == "open311_xml":
        return xml_requests(text)
    try:
        doc = json.loads(text, object_pairs_hook=noting_repeats)
    except json.JSONDecodeError as err:
        raise UnreadableFile(f"invalid JSON: {err.msg} at line {err.lineno}") from err
    except (RecursionError, ValueError) as err:  # nested too deep; an integer of 4,301+ digits
        raise UnreadableFile(f"invalid JSON: {too_much(err)}") from err
    listed, shared = gbfs_records(doc) if fmt == "gbfs" else (open311_records(doc), {})
    escapes = bool(SURROGATE_ESCAPE.search(text))
    if escapes and (problem := lone_surrogate(shared)):
        raise UnreadableFile(f"the document's own fields: {problem}")
    return [
        flatten({**shared, **r}) if isinstance(r := checked(v, escapes), dict) else r
        for v in listed
    ]


def gbfs_records(doc: Any) -> tuple[list[Any], dict[str, Any]]:
    """The list under `data`, and the document's own fields that apply to each record."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise UnreadableFile("not a GBFS document: no 'data' object")
    lists = [v for v in doc["data"].values() if isinstance(v, list)]
    if len(lists) != 1:
        raise UnreadableFile(f"GBFS 'data' holds {len(lists)} lists; expected exactly one")
    shared = {k: doc[k] for k in DOCUMENT_FIELDS if k in doc}
    refuse_repeats(doc, doc["data"])
    if (key := key_named_twice(shared)) is not None:  # shared values join every record
        raise UnreadableFile(envelope_repeat(key))
    return lists[0], shared


def open311_records(doc: Any) -> list[Any]:
    """An Open311 JSON response: a list of requests (or an object wrapping one)."""
    if isinstance(doc, dict):
        refuse_repeats(doc)
        lists = [v for v in doc.values() if isinstance(v, list)]
        doc = lists[0] if len(lists) == 1 else None
    if not isinstance(doc, list):
        raise UnreadableFile("not an Open311 response: expected a list of service requests")
    return doc


def xml_requests(text: str) -> list[dict[str, Any] | Refused]:
    """`<service_requests><request>...</request></service_requests>` as dicts of child texts;
    a request naming a field twice is refused."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise UnreadableFile(f"invalid XML: {err}") from err
    requests = [
        noting_repeats([(local(c.tag), field_text(c)) for c in request]) for request in root
    ]
    return [
        Refused(element_text(element, request), named_twice(request.key))
        if isinstance(request, KeyNamedTwice)
        else request
        for element, request in zip(root, requests, strict=True)
    ]


def field_text(field: ET.Element) -> str | None:
    """A request field's text. Text mixed with elements is all of it (`夜间<b>噪声</b>扰民` is
    `夜间噪声扰民`); a field holding elements alone is their XML (`<deg>43</deg><min>41</min>`,
    which no number reads, rather than `4341`); None when it holds nothing."""
    if len(field) == 0:
        return field.text
    blank = not (field.text or "").strip() and not any((c.tail or "").strip() for c in field)
    if blank:
        try:
            return "".join(ET.tostring(c, encoding="unicode") for c in field).strip() or None
        except RecursionError:  # nested past what serialising can walk
            pass
    return "".join(field.itertext()) or None


def element_text(element: ET.Element, request: KeyNamedTwice) -> str:
    """A refused request as its XML text; nested past what serialising can walk (Python's
    recursion limit), as the fields read from it, in JSON."""
    try:
        return ET.tostring(element, encoding="unicode").strip()
    except RecursionError:
        return as_delivered(request)


def local(tag: str) -> str:
    """An element's name without its namespace (`{http://...}status` is `status`)."""
    return tag.rpartition("}")[2]


class KeyNamedTwice(dict):
    """A JSON object (or XML element) that names `key` twice: which value was meant is unclear
    (Python's `json` would keep the last)."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.pairs = pairs  # as delivered, both values kept, for the quarantine's raw text
        self.key = key


def noting_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict, a `KeyNamedTwice` if a key repeats."""
    record = dict(pairs)
    return record if len(record) == len(pairs) else KeyNamedTwice(pairs, first_repeat(pairs))


def first_repeat(pairs: list[tuple[str, Any]]) -> str:
    """The first key named a second time."""
    seen: set[str] = set()
    return next(k for k, _ in pairs if k in seen or seen.add(k))


def key_named_twice(value: Any) -> str | None:
    """A key that an object in `value`, at any depth, names twice; None if none does. A loop,
    not recursion: `json` parses nesting deeper than Python's recursion limit allows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, KeyNamedTwice):
            return item.key
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def checked(value: Any, escapes: bool = True) -> dict[str, Any] | Refused:
    """A listed value as a record, or refused: not an object, naming a key twice, or holding a
    lone surrogate (looked for only where the text had `escapes` that could make one; the raw
    text then escapes every non-ASCII character, as no UTF-8 text can hold that one)."""
    surrogate = lone_surrogate(value) if escapes else None
    ascii_only = surrogate is not None
    if not isinstance(value, dict):
        raw = json.dumps(value, ensure_ascii=ascii_only)
        return Refused(raw, surrogate or not_an_object(value))
    if (key := key_named_twice(value)) is not None:
        return Refused(as_delivered(value, ascii_only), named_twice(key))
    if surrogate:
        return Refused(json.dumps(value), surrogate)
    return value


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800-\udfff: half a UTF-16 pair


def lone_surrogate(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored: `json` turns an escape such as `\\ud800`
    without its other half into a character no UTF-8 text can hold. None if it has none."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(err.object[err.start])
        return f"\\u{code:04x} is half of a UTF-16 surrogate pair, not a character"
    return None


def as_delivered(value: Any, ascii_only: bool = False) -> str:
    """JSON text of a value, each object that named a key twice shown with both values."""
    if isinstance(value, dict):
        pairs = value.pairs if isinstance(value, KeyNamedTwice) else value.items()
        shown = (
            f"{json.dumps(k, ensure_ascii=ascii_only)}: {as_delivered(v, ascii_only)}"
            for k, v in pairs
        )
        return "{" + ", ".join(shown) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(as_delivered(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def refuse_repeats(*envelopes: Any) -> None:
    """A document whose own objects (not its records) name a key twice cannot be read."""
    for envelope in envelopes:
        if isinstance(envelope, KeyNamedTwice):
            raise UnreadableFile(envelope_repeat(envelope.key))


def envelope_repeat(key: str) -> str:
    """The reason a document whose own fields name `key` twice cannot be read."""
    return f"key {key!r} appears twice in the document's envelope"


def too_much(err: RecursionError | ValueError) -> str:
    """Why Python's `json` gave up on valid JSON: nesting or an integer past its limits."""
    if isinstance(err, RecursionError):
        return "nested deeper than the reader allows"
    return f"a value past the reader's limits ({err})"


def named_twice(key: str) -> str:
    """The reason for an object that names `key` twice."""
    return f"key {key!r} appears twice in one object"


def not_an_object(value: object) -> str:
    """The reason a record that is not a JSON object is refused."""
    return f"a JSON {type(value).__name__}, not an object"


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """Localised text lists to their first text; other values unchanged."""
    return {k: first_text(v) for k, v in record.items()}


def first_text(value: Any) -> Any:
    """`[{"text": "x", "language": "zh"}]` -> "x"."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "text" in v for v in value)
    ):
        return value[0]["text"]
    return value
