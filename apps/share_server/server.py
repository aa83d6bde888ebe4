"""A Delta Sharing server (the open protocol's REST API) over the lake's published shares.

What the official `delta-sharing` client uses: list shares, schemas and tables; a table's
version and metadata; a query (with a version; limit and predicate hints are hints, and rows are
already cut to the recipient's jurisdiction when the share was published). Files are served at
short-lived signed URLs. Every request, refused ones too, goes to the audit log.

Security rules: a bearer token is checked against its stored hash, expiry and revocation on every
request; a recipient sees only the shares granted to it, and anything else - another's share, a
misspelt name, a path with `..` - is the same 404, so names cannot be probed. File URLs carry an
HMAC over the exact file, the recipient and the expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from apps.share_server.audit import AuditLog
from assets.lake import LakeResource
from assets.registry.reference import Grant, Reference
from assets.sharing.recipients import Recipient, authenticate, read_all

PREFIX = "/delta-sharing"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
URL_SECONDS = 900  # signed file URLs live 15 minutes
TOKENS_SECONDS = 2.0  # the token table is re-read at most this often (revocation takes effect)
PAGE = 100


class Refused(Exception):
    """A request the server answers with an error (and audits)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Context:
    """What a request is about, for its audit row."""

    recipient: Recipient | None = None
    share: str | None = None
    schema: str | None = None
    table: str | None = None
    version: int | None = None
    files: int | None = None
    bytes: int | None = None


class SharingServer:
    """The protocol's handlers over one lake."""

    def __init__(self, lake: LakeResource, url_key: bytes | None = None) -> None:
        if not lake.is_local:
            raise ValueError("the sharing server serves a local lake (files are read from disk)")
        self.lake = lake
        self.url_key = url_key or secrets.token_bytes(32)
        self.grants = {g.share: g for g in Reference().grants}
        self.audit = AuditLog(lake)
        self.tokens: tuple[float, list[dict]] = (0.0, [])

    # --- who is asking ------------------------------------------------------------------

    def recipient(self, request: Request) -> Recipient:
        """The recipient of the request's bearer token, else 401."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise Refused(401, "UNAUTHENTICATED", "a bearer token is required")
        if time.monotonic() - self.tokens[0] > TOKENS_SECONDS:
            self.tokens = (time.monotonic(), read_all(self.lake))
        found = authenticate(self.tokens[1], header[7:].strip(), datetime.now(UTC))
        if found is None:
            raise Refused(401, "UNAUTHENTICATED", "the token is unknown, expired or revoked")
        return found

    def granted(self, recipient: Recipient, share: str) -> Grant:
        """A share granted to the recipient; anything else is the same 404."""
        grant = self.grants.get(share) if NAME.match(share) else None
        if grant is None or grant.consumer != recipient.consumer:
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", f"share {share!r} not found")
        return grant

    def table_path(self, recipient: Recipient, share: str, schema: str, table: str) -> Path:
        """The Delta folder of a granted table, else 404."""
        grant = self.granted(recipient, share)
        tables = {s.name: [t.split("/")[1] for t in s.tables] for s in grant.schemas}
        if table not in tables.get(schema, []):
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", f"table {schema}.{table} not found")
        path = Path(self.lake.uri("shares", share, schema, table))
        if not DeltaTable.is_deltatable(str(path)):
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", f"{schema}.{table} is not published")
        return path

    # --- listing ------------------------------------------------------------------------

    def shares(self, request: Request, ctx: Context) -> Response:
        """GET /shares."""
        ctx.recipient = self.recipient(request)
        names = sorted(s for s, g in self.grants.items() if g.consumer == ctx.recipient.consumer)
        return page(request, [{"name": s, "id": share_id(s)} for s in names])

    def share(self, request: Request, ctx: Context) -> Response:
        """GET /shares/{share}."""
        ctx.recipient = self.recipient(request)
        grant = self.granted(ctx.recipient, request.path_params["share"])
        return JSONResponse({"share": {"name": grant.share, "id": share_id(grant.share)}})

    def schemas(self, request: Request, ctx: Context) -> Response:
        """GET /shares/{share}/schemas."""
        ctx.recipient = self.recipient(request)
        grant = self.granted(ctx.recipient, ctx.share)
        return page(request, [{"name": s.name, "share": grant.share} for s in grant.schemas])

    def tables(self, request: Request, ctx: Context) -> Response:
        """GET /shares/{share}/schemas/{schema}/tables and /shares/{share}/all-tables."""
        ctx.recipient = self.recipient(request)
        grant = self.granted(ctx.recipient, ctx.share)
        wanted = request.path_params.get("schema")
        items = [
            {"name": t.split("/")[1], "schema": s.name, "share": grant.share,
             "shareId": share_id(grant.share), "id": share_id(f"{grant.share}.{s.name}.{t}")}
            for s in grant.schemas if wanted in (None, s.name)
            for t in s.tables
        ]  # fmt: skip
        if wanted is not None and not any(s.name == wanted for s in grant.schemas):
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", f"schema {wanted!r} not found")
        return page(request, items)

    # --- one table ----------------------------------------------------------------------

    def open_table(self, request: Request, ctx: Context, version: int | None) -> DeltaTable:
        """The granted table at `version` (the latest when None)."""
        ctx.recipient = self.recipient(request)
        path = self.table_path(ctx.recipient, ctx.share, ctx.schema, ctx.table)
        try:
            table = DeltaTable(str(path), version=version)
        except Exception as err:  # deltalake raises its own errors for a missing version
            raise Refused(400, "INVALID_PARAMETER_VALUE", f"no version {version}") from err
        ctx.version = table.version()
        return table

    def version(self, request: Request, ctx: Context) -> Response:
        """GET .../version."""
        table = self.open_table(request, ctx, None)
        return Response(status_code=200, headers=version_header(table))

    def metadata(self, request: Request, ctx: Context) -> Response:
        """GET .../metadata: protocol and metaData lines."""
        table = self.open_table(request, ctx, None)
        return ndjson(table_head(table), version_header(table))

    async def query(self, request: Request, ctx: Context) -> Response:
        """POST .../query: protocol, metaData and one signed URL per file."""
        body = await request.body()
        try:
            asked = json.loads(body or b"{}")
            version = asked.get("version")
            version = None if version is None else int(version)
            if asked.get("timestamp") or asked.get("startingVersion") is not None:
                raise ValueError("only queries by version are served")
        except (ValueError, TypeError, AttributeError) as err:
            raise Refused(400, "INVALID_PARAMETER_VALUE", f"not a valid query: {err}") from err
        table = self.open_table(request, ctx, version)
        actions = pa.table(table.get_add_actions(flatten=True))
        keep = ["path", "size_bytes", "num_records"]
        keep += [c for c in actions.column_names if c.startswith("partition.")]
        files = actions.select(keep).to_pylist()
        ctx.files = len(files)
        ctx.bytes = sum(f["size_bytes"] for f in files)
        lines = table_head(table)
        expires = int(time.time()) + URL_SECONDS
        for f in files:
            url = self.signed_url(request, ctx, f["path"], expires)
            lines.append({"file": {
                "url": url,
                "id": hashlib.sha256(f["path"].encode()).hexdigest()[:32],
                "partitionValues": {
                    k.removeprefix("partition."): None if v is None else str(v)
                    for k, v in f.items() if k.startswith("partition.")
                },
                "size": f["size_bytes"],
                "stats": json.dumps({"numRecords": f.get("num_records")}),
                "expirationTimestamp": expires * 1000,
            }})  # fmt: skip
        return ndjson(lines, version_header(table))

    # --- files --------------------------------------------------------------------------

    def signature(self, recipient: str, rel: str, expires: int) -> str:
        """HMAC of exactly this file, for this recipient, until this time."""
        message = f"{recipient}\n{rel}\n{expires}".encode()
        mac = hmac.new(self.url_key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def signed_url(self, request: Request, ctx: Context, path: str, expires: int) -> str:
        """The short-lived URL of one data file of the table."""
        rel = f"{ctx.share}/{ctx.schema}/{ctx.table}/{path}"
        sig = self.signature(ctx.recipient.consumer, rel, expires)
        base = str(request.base_url).rstrip("/")
        return f"{base}/files/{rel}?r={ctx.recipient.consumer}&exp={expires}&sig={sig}"

    def file(self, request: Request, ctx: Context) -> Response:
        """GET /files/...: a data file, if its URL is genuine and alive."""
        rel = request.path_params["rel"]
        who, exp, sig = (request.query_params.get(k, "") for k in ("r", "exp", "sig"))
        ctx.share, ctx.schema, ctx.table = [*rel.split("/"), None, None, None][:3]
        if not exp.isdigit() or not hmac.compare_digest(sig, self.signature(who, rel, int(exp))):
            raise Refused(403, "PERMISSION_DENIED", "the file URL is not genuine")
        if int(exp) < time.time():
            raise Refused(403, "PERMISSION_DENIED", "the file URL has expired")
        root = Path(self.lake.uri("shares")).resolve()
        path = (root / rel).resolve()
        if root not in path.parents or not path.is_file():
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", "no such file")
        ctx.files, ctx.bytes = 1, path.stat().st_size
        return FileResponse(path, media_type="application/octet-stream")


def share_id(name: str) -> str:
    """A stable id for a share or table name."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def version_header(table: DeltaTable) -> dict[str, str]:
    """The header every table response carries."""
    return {"delta-table-version": str(table.version())}


def table_head(table: DeltaTable) -> list[dict]:
    """The protocol and metaData lines of a table (parquet response format)."""
    meta = table.metadata()
    return [
        {"protocol": {"minReaderVersion": 1}},
        {"metaData": {
            "id": meta.id,
            "format": {"provider": "parquet"},
            "schemaString": table.schema().to_json(),
            "partitionColumns": list(meta.partition_columns),
            "configuration": {},
        }},
    ]  # fmt: skip


def ndjson(lines: list[dict], headers: dict[str, str]) -> Response:
    """Newline-delimited JSON, one object per line."""
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return Response(body, media_type="application/x-ndjson; charset=utf-8", headers=headers)


def page(request: Request, items: list[dict]) -> JSONResponse:
    """One page of a listing (maxResults, pageToken)."""
    try:
        size = min(int(request.query_params.get("maxResults", PAGE)), PAGE)
        start = int(request.query_params.get("pageToken") or 0)
    except ValueError as err:
        raise Refused(400, "INVALID_PARAMETER_VALUE", "bad maxResults or pageToken") from err
    rest = items[start + size :]
    body = {"items": items[start : start + size]}
    if rest:
        body["nextPageToken"] = str(start + size)
    return JSONResponse(body)


def make_app(lake: LakeResource, url_key: bytes | None = None) -> Starlette:
    """The server as an ASGI app."""
    server = SharingServer(lake, url_key)

    def handle(method):
        async def endpoint(request: Request) -> Response:
            params = request.path_params
            ctx = Context(share=params.get("share"), schema=params.get("schema"),
                          table=params.get("table"))  # fmt: skip
            status, outcome = 200, "ok"
            try:
                response = method(request, ctx)
                if hasattr(response, "__await__"):
                    response = await response
                status = response.status_code
            except Refused as refused:
                status, outcome = refused.status, f"refused: {refused.message}"
                response = JSONResponse(
                    {"errorCode": refused.code, "message": refused.message}, status_code=status
                )
            who = ctx.recipient
            server.audit.record(
                recipient=who.consumer if who else request.query_params.get("r"),
                token_id=who.token_id if who else None, method=request.method,
                path=request.url.path, share=ctx.share, schema=ctx.schema, table=ctx.table,
                version=ctx.version, files=ctx.files, bytes=ctx.bytes, status=status,
                outcome=outcome,
            )  # fmt: skip
            return response

        return endpoint

    table = PREFIX + "/shares/{share}/schemas/{schema}/tables/{table}"
    routes = [
        Route(PREFIX + "/shares", handle(server.shares)),
        Route(PREFIX + "/shares/{share}", handle(server.share)),
        Route(PREFIX + "/shares/{share}/schemas", handle(server.schemas)),
        Route(PREFIX + "/shares/{share}/all-tables", handle(server.tables)),
        Route(PREFIX + "/shares/{share}/schemas/{schema}/tables", handle(server.tables)),
        Route(table + "/version", handle(server.version)),
        Route(table + "/metadata", handle(server.metadata)),
        Route(table + "/query", handle(server.query), methods=["POST"]),
        Route("/files/{rel:path}", handle(server.file), methods=["GET", "HEAD"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        server.audit.close()  # every queued audit row is written before the server stops

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.server = server
    return app
