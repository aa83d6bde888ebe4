"""What the risk models write under `risk/`, and the tiers of its columns.

Kept apart from the models (no scikit-learn, no Dagster) so that readers of the results - the
city model's views, sharing and the reports - load only these schemas.
"""

import pyarrow as pa

PUBLIC = ("street_code", "committee_code", "grid_cell", "as_of_date")

SCORES_SCHEMA = pa.schema(
    [
        ("flat_id", pa.string()),
        ("street_code", pa.string()),
        ("committee_code", pa.string()),
        ("grid_cell", pa.string()),
        ("score", pa.float64()),
        ("probability", pa.float64()),
        ("anomaly_score", pa.float64()),
        ("rank", pa.int64()),
        ("reason_codes", pa.list_(pa.string())),
        ("reasons", pa.list_(pa.string())),
        ("last_inspection_outcome", pa.string()),
        ("in_capacity", pa.bool_()),
        ("model_version", pa.string()),
    ]
)

TIME = pa.timestamp("us", tz="UTC")
EVIDENCE = pa.struct(
    [
        ("read_id_a", pa.string()),
        ("camera_a", pa.string()),
        ("read_at_a", TIME),
        ("read_id_b", pa.string()),
        ("camera_b", pa.string()),
        ("read_at_b", TIME),
        ("distance_km", pa.float64()),
        ("minutes", pa.float64()),
        ("implied_kmh", pa.float64()),
        ("confidence", pa.float64()),
    ]
)
SUSPECTS_SCHEMA = pa.schema(
    [
        ("plate", pa.string()),
        ("register_make", pa.string()),
        ("register_colour", pa.string()),
        ("reads", pa.int64()),
        ("repaired_reads", pa.int64()),
        ("conflicts", pa.int64()),
        ("confident_conflicts", pa.int64()),
        ("mismatched_reads", pa.int64()),
        ("seen_as", pa.list_(pa.string())),
        ("max_implied_kmh", pa.float64()),
        ("first_conflict_at", TIME),
        ("last_conflict_at", TIME),
        ("street_code", pa.string()),
        ("evidence", pa.list_(EVIDENCE)),
        ("score", pa.float64()),
    ]
)
SUSPECTS_OUTPUT_SCHEMA = SUSPECTS_SCHEMA.append(pa.field("model_version", pa.string()))

# What each model writes under `risk/` (as_of_date added by the store): the city model reads
# them for dispatch, and sees empty tables of these columns before a model has run.
RISK_OUTPUTS = {
    "group_rental_scores": SCORES_SCHEMA,
    "cloned_plate_suspects": SUSPECTS_OUTPUT_SCHEMA,
}
# Their columns' tiers: a flat (room-level address) and a plate are personal (L3); reasons and
# evidence quote numbers, cameras and read ids, none of them personal; area codes are public.
RISK_TIERS = {
    name: {
        column: "L3" if column in ("flat_id", "plate") else "L1" if column in PUBLIC else "L2"
        for column in schema.names
    }
    for name, schema in RISK_OUTPUTS.items()
}
