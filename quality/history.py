"""Every check result, kept: a Delta table stewards can query for the history of a table's quality.

The sample of unexpected values is masked by each column's tier, as a steward of a lower
clearance may read the history: L1 and L2 as they are, L3 partly hidden, L4 hidden.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from quality.engine import Outcome
from quality.rules import TableSpec

HISTORY_SCHEMA = pa.schema(
    [
        ("check", pa.string()),
        ("table", pa.string()),
        ("partition", pa.string()),
        ("passed", pa.bool_()),
        ("severity", pa.string()),
        ("observed_value", pa.string()),
        ("element_count", pa.int64()),
        ("unexpected_count", pa.int64()),
        ("unexpected_sample", pa.string()),
        ("message", pa.string()),
        ("run_id", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
    ]
)
TIER_RANK = {"L1": 1, "L2": 2, "L3": 3, "L4": 4}


def mask(value: Any, tier: str) -> Any:
    """A value as a steward may see it in a sample: L3 keeps its ends, L4 only its length."""
    if value is None or TIER_RANK.get(tier, 4) <= 2:
        return value
    text = str(value)
    if TIER_RANK.get(tier, 4) >= 4:
        return f"<{len(text)} characters hidden>"
    keep = 1 if len(text) <= 6 else 3
    return text[:keep] + "*" * max(len(text) - keep - 2, 1) + text[-2:] if len(text) > 3 else "***"


def masked_sample(outcome: Outcome, table: TableSpec) -> list[Any]:
    """The outcome's sample with every value masked by its column's tier, as plain JSON values.
    Columns a rule derives (e.g. a previous reading) take the highest tier of its columns."""
    tiers = {c.name: c.tier for c in table.columns}
    derived = max(
        (tiers.get(c, "L4") for c in outcome.rule.columns), key=TIER_RANK.get, default="L4"
    )
    first = outcome.rule.columns[0] if outcome.rule.columns else None
    out = []
    for item in outcome.sample:
        if isinstance(item, dict):
            out.append({k: mask(v, tiers.get(k, derived)) for k, v in item.items()})
        elif isinstance(item, list | tuple):
            cols = outcome.rule.columns
            out.append([mask(v, tiers.get(c, derived)) for v, c in zip(item, cols, strict=False)])
        else:
            out.append(mask(item, tiers.get(first, derived) if first else derived))
    return json.loads(json.dumps(out, ensure_ascii=False, default=str))  # times as text


def history_rows(
    outcomes: list[Outcome], table: TableSpec, partition: str | None, run_id: str
) -> pa.Table:
    """The history rows of one check run."""
    at = datetime.now(UTC)
    rows = [
        {
            "check": o.rule.name,
            "table": table.name,
            "partition": partition,
            "passed": o.passed,
            "severity": "critical" if o.rule.critical else "warn",
            "observed_value": o.observed,
            "element_count": o.element_count,
            "unexpected_count": o.unexpected_count,
            "unexpected_sample": json.dumps(masked_sample(o, table), ensure_ascii=False),
            "message": o.message,
            "run_id": run_id,
            "checked_at": at,
        }
        for o in outcomes
    ]
    return pa.Table.from_pylist(rows, HISTORY_SCHEMA)


def append_history(uri: str, rows: pa.Table, storage_options: dict | None = None) -> None:
    """Add a run's rows to the history table (appends never conflict with each other)."""
    from deltalake import write_deltalake

    write_deltalake(
        uri, rows, mode="append", partition_by=["table"], storage_options=storage_options
    )
