"""Records out of feed documents: GBFS (2.3 and 3.0) and Open311 GeoReport v2 (JSON and XML).

Generic rules, no system names: a GBFS document's records are the list under `data`, and its
top-level `last_updated`, `ttl` and `version` apply to each record; an Open311 document is a list
of requests. Localised texts (GBFS 3.0: `[{"text": ..., "language": ...}]`) become their first text.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from assets.ingest.batches import UnreadableFile
from assets.registry import Contract

DOCUMENT_FIELDS = ("last_updated", "ttl", "version")


def document_records(text: str, contract: Contract) -> list[Any]:
    """The records of one document, by the contract's file format: objects, or whatever else
    the document lists (the reader rejects those)."""
    fmt = contract.settings.file_format
    if fmt == "open311_xml":
        return [flatten(r) for r in xml_requests(text)]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise UnreadableFile(f"invalid JSON: {err.msg} at line {err.lineno}") from err
    records = gbfs_records(doc) if fmt == "gbfs" else open311_records(doc)
    return [flatten(r) if isinstance(r, dict) else r for r in records]


def gbfs_records(doc: Any) -> list[Any]:
    """The list under `data`, each record with the document's own fields added."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise UnreadableFile("not a GBFS document: no 'data' object")
    lists = [v for v in doc["data"].values() if isinstance(v, list)]
    if len(lists) != 1:
        raise UnreadableFile(f"GBFS 'data' holds {len(lists)} lists; expected exactly one")
    shared = {k: doc[k] for k in DOCUMENT_FIELDS if k in doc}
    return [{**shared, **r} if isinstance(r, dict) else r for r in lists[0]]


def open311_records(doc: Any) -> list[Any]:
    """An Open311 JSON response: a list of requests (or an object wrapping one)."""
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        doc = lists[0] if len(lists) == 1 else None
    if not isinstance(doc, list):
        raise UnreadableFile("not an Open311 response: expected a list of service requests")
    return doc


def xml_requests(text: str) -> list[dict[str, Any]]:
    """`<service_requests><request>...</request></service_requests>` as dicts of child texts."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise UnreadableFile(f"invalid XML: {err}") from err
    return [{child.tag: child.text for child in request} for request in root]


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
