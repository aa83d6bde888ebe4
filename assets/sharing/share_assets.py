"""One Dagster asset per grant: `shares/<share>`, published from the gold and risk tables it
holds, for the consumer it is granted to (`contracts/consumers.yaml`)."""

import dagster as dg

from assets.lake import LakeResource
from assets.registry.reference import Grant, Reference
from assets.sharing.publish import publish_grant


class ShareKeyResource(dg.ConfigurableResource):
    """The key that tokenises columns above a consumer's clearance (from the environment)."""

    key: str


def source_key(table: str) -> dg.AssetKey:
    """The asset that writes `gold/<mart>` (the city model) or `risk/<model>`."""
    zone, name = table.split("/")
    return dg.AssetKey(["city_model", name] if zone == "gold" else ["risk", name])


def share_asset(grant: Grant) -> dg.AssetsDefinition:
    """The publishing asset of one grant."""
    consumer = Reference().consumer(grant.consumer)
    tables = [f"{s.name}.{t.split('/')[1]}" for s in grant.schemas for t in s.tables]

    @dg.asset(
        key=["shares", grant.share],
        deps=sorted({source_key(t) for s in grant.schemas for t in s.tables}),
        group_name="sharing",
        owners=["data-sharing@citybrain.local"],
        kinds={"delta"},
        tags={"layer": "shares", "consumer": consumer.code},
        description=f"Share for {consumer.name_zh} ({consumer.code}): clearance "
        f"{consumer.clearance.value}, jurisdiction {consumer.jurisdiction}; "
        f"tables {', '.join(tables)}.",
    )
    def _publish(
        context: dg.AssetExecutionContext, lake: LakeResource, share_key: ShareKeyResource
    ) -> dg.MaterializeResult:
        manifest = publish_grant(lake, grant, share_key.key)
        return dg.MaterializeResult(
            metadata={
                "consumer": consumer.code,
                "clearance": consumer.clearance.value,
                "jurisdiction": consumer.jurisdiction,
                **{f"rows.{t['schema']}.{t['table']}": t["rows"] for t in manifest["tables"]},
                "masked": ", ".join(
                    f"{t['table']}.{c['name']}:{c['action']}"
                    for t in manifest["tables"]
                    for c in t["columns"]
                    if c["action"] != "keep"
                )
                or "none",
                "manifest": dg.MetadataValue.path(
                    lake.uri("shares", grant.share, "_manifest.json")
                ),
            }
        )

    return _publish


share_assets = [share_asset(g) for g in Reference().grants]
