"""Where risk results live: scores as Delta under `risk/<model>`, one partition per as-of day,
and each fitted model as a versioned artifact with its model card under `risk/models/<model>/`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date

import joblib
import pyarrow as pa
from blake3 import blake3
from deltalake import write_deltalake

from assets.lake import LakeResource, write_bytes

ZONE = "risk"
AS_OF = "as_of_date"


def stored_schema(schema: pa.Schema) -> pa.Schema:
    """A result's schema as stored: with its as-of day."""
    return schema.append(pa.field(AS_OF, pa.date32()))


def write_results(lake: LakeResource, name: str, table: pa.Table, as_of: date) -> str:
    """Replace the `as_of` partition of `risk/<name>` with `table`; the table's location."""
    day = pa.array([as_of] * table.num_rows, pa.date32())
    table = table.append_column(stored_schema(table.schema).field(AS_OF), day)
    uri = lake.table(ZONE, name)
    write_deltalake(
        uri,
        table,
        mode="overwrite",
        predicate=f"{AS_OF} = '{as_of.isoformat()}'",
        partition_by=[AS_OF],
        schema_mode="merge",  # a model that gains an output column keeps its history
        storage_options=lake.storage_options,
    )
    return uri


@dataclass(frozen=True)
class ModelVersion:
    """A saved model: its version and where its artifact and card are."""

    version: str
    artifact: str
    card: str


def save_model(lake: LakeResource, name: str, model: object, card: dict) -> ModelVersion:
    """Save `model` and its card; the version is the as-of day and the artifact's hash, so the
    same data and code give the same version."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    data = buffer.getvalue()
    version = f"{card['as_of']}-{blake3(data).hexdigest()[:10]}"
    folder = lake.uri(ZONE, "models", name, version)
    card = {"model": name, "version": version, **card}
    write_bytes(f"{folder}/model.joblib", data)
    write_bytes(
        f"{folder}/model_card.json", json.dumps(card, indent=2, ensure_ascii=False).encode()
    )
    write_bytes(f"{folder}/model_card.md", card_markdown(card).encode())
    return ModelVersion(version, f"{folder}/model.joblib", f"{folder}/model_card.md")


def card_markdown(card: dict) -> str:
    """The model card as Markdown, for stewards and inspectors."""
    lines = [f"# Model card: {card['model']} {card['version']}", ""]
    for key, value in card.items():
        if isinstance(value, dict):
            lines += [f"## {key}", ""] + [f"- {k}: {v}" for k, v in value.items()] + [""]
        elif isinstance(value, list):
            lines += [f"## {key}", ""] + [f"- {v}" for v in value] + [""]
        else:
            lines.append(f"- **{key}**: {value}")
    return "\n".join(lines) + "\n"
