"""Recipients of the Delta Sharing server: one bearer token per consumer at a time, stored only
as a hash, with an expiry, revocable; and the profile file a department's tools read.

    python -m assets.sharing.recipients issue housing --days 90 --out profiles/
    python -m assets.sharing.recipients issue --all --out profiles/
    python -m assets.sharing.recipients revoke housing

A token is `cbs_<id>_<secret>`; the table `sharing/recipients` keeps the id, the SHA-256 of the
whole token, when it was issued, when it expires and when (if) it was revoked. Issuing a new
token revokes the consumer's previous one (rotation).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from assets.ingest.tables import read_table
from assets.lake import LakeResource
from assets.registry.reference import Reference

TABLE = ("sharing", "recipients")
DEFAULT_ENDPOINT = "http://127.0.0.1:8080/delta-sharing"
SCHEMA = pa.schema(
    [
        ("consumer", pa.string()),
        ("token_id", pa.string()),
        ("token_sha256", pa.string()),
        ("issued_at", pa.timestamp("us", tz="UTC")),
        ("expires_at", pa.timestamp("us", tz="UTC")),
        ("revoked_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Recipient:
    """Who a valid token belongs to."""

    consumer: str
    token_id: str
    expires_at: datetime


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def read_all(lake: LakeResource) -> list[dict]:
    """Every token row (small: one row per token ever issued)."""
    # Through delta-rs's query engine: pyarrow's dataset reader can abort the process at exit.
    rows = read_table(lake.table(*TABLE), storage_options=lake.storage_options)
    return [] if rows is None else rows.to_pylist()


def write_all(lake: LakeResource, rows: list[dict]) -> None:
    """Replace the token table (issuing and revoking are rare, whole-table writes)."""
    write_deltalake(
        lake.table(*TABLE),
        pa.Table.from_pylist(rows, schema=SCHEMA),
        mode="overwrite",
        storage_options=lake.storage_options,
    )


def issue(lake: LakeResource, consumer: str, days: int) -> tuple[str, datetime]:
    """A new token for `consumer` (its previous ones revoked); the token and its expiry."""
    Reference().consumer(consumer)  # refuses an unknown consumer
    now = datetime.now(UTC)
    rows = [
        r | {"revoked_at": r["revoked_at"] or now} if r["consumer"] == consumer else r
        for r in read_all(lake)
    ]
    token_id = secrets.token_hex(6)
    token = f"cbs_{token_id}_{secrets.token_urlsafe(32)}"
    expires = now + timedelta(days=days)
    rows.append(
        {
            "consumer": consumer,
            "token_id": token_id,
            "token_sha256": digest(token),
            "issued_at": now,
            "expires_at": expires,
            "revoked_at": None,
        }
    )
    write_all(lake, rows)
    return token, expires


def revoke(lake: LakeResource, consumer: str) -> int:
    """Revoke every live token of `consumer`; how many were live."""
    now = datetime.now(UTC)
    rows, revoked = [], 0
    for r in read_all(lake):
        if r["consumer"] == consumer and r["revoked_at"] is None:
            r = r | {"revoked_at": now}
            revoked += 1
        rows.append(r)
    write_all(lake, rows)
    return revoked


def authenticate(rows: list[dict], token: str, now: datetime) -> Recipient | None:
    """The recipient of a live token, else None (unknown, tampered, expired or revoked)."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "cbs":
        return None
    for r in rows:
        known = r["token_id"] == parts[1]
        if (
            known
            and hmac.compare_digest(r["token_sha256"], digest(token))
            and r["revoked_at"] is None
            and r["expires_at"] > now
        ):
            return Recipient(r["consumer"], r["token_id"], r["expires_at"])
    return None


def write_profile(
    folder: Path, consumer: str, endpoint: str, token: str, expires: datetime
) -> Path:
    """The Delta Sharing profile file of a consumer (keep it like a password)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{consumer}.share"
    profile = {
        "shareCredentialsVersion": 1,
        "endpoint": endpoint,
        "bearerToken": token,
        "expirationTime": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    path.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def main(argv: list[str] | None = None) -> int:
    """Issue or revoke tokens from the command line."""
    parser = argparse.ArgumentParser(prog="python -m assets.sharing.recipients")
    sub = parser.add_subparsers(dest="command", required=True)
    give = sub.add_parser("issue", help="issue tokens and write profile files")
    give.add_argument("consumer", nargs="?", help="a consumer code (consumers.yaml)")
    give.add_argument("--all", action="store_true", help="every consumer with a grant")
    give.add_argument("--days", type=int, default=90, help="days until the token expires")
    give.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help="the server's sharing URL")
    give.add_argument("--out", type=Path, default=Path("profiles"), help="profile folder")
    take = sub.add_parser("revoke", help="revoke a consumer's tokens")
    take.add_argument("consumer")
    args = parser.parse_args(argv)
    lake = LakeResource.from_env()
    if args.command == "revoke":
        print(f"{args.consumer}: {revoke(lake, args.consumer)} token(s) revoked")
        return 0
    if not args.all and not args.consumer:
        parser.error("name a consumer or use --all")
    consumers = sorted({g.consumer for g in Reference().grants}) if args.all else [args.consumer]
    for consumer in consumers:
        token, expires = issue(lake, consumer, args.days)
        path = write_profile(args.out, consumer, args.endpoint, token, expires)
        print(f"{consumer}: profile {path} (expires {expires:%Y-%m-%d})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
