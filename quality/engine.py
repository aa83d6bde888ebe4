"""Great Expectations 1.x, executing inside DuckDB.

GE has no DuckDB dialect; through SQLAlchemy (`duckdb-engine`) every expectation fails because
GE closes the connection before it fetches results (GE issue #10738). GE keeps one connection
open for the dialects it lists as needing a persisted connection (SQLite, SQL Server, ...);
adding DuckDB there makes each expectation an SQL query over the same in-memory DuckDB, where
the table in scope is a view. Pinned in pyproject.toml; `tests/test_quality_engine.py` fails if
a GE release changes this.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from quality.rules import Rule, TableSpec

EXPECTATIONS = {
    "not_null": "ExpectColumnValuesToNotBeNull",
    "in_set": "ExpectColumnValuesToBeInSet",
    "between": "ExpectColumnValuesToBeBetween",
    "unique": "ExpectCompoundColumnsToBeUnique",
    "pair_order": "ExpectColumnPairValuesAToBeGreaterThanB",
    "unexpected_rows": "UnexpectedRowsExpectation",
}
SAMPLE = 10  # unexpected values kept per failing rule
SCOPE_VIEW = "scope"  # the rows in scope
MEMORY_LIMIT = "1GB"  # DuckDB spills to disk beyond this (sorts, windows, joins)


@dataclass
class Outcome:
    """What one rule found in one validation."""

    rule: Rule
    passed: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    observed: str | None = None
    sample: list[Any] = field(default_factory=list)
    error: str | None = None

    @property
    def message(self) -> str:
        """One line for the steward."""
        if self.error:
            return f"{self.rule.name}: could not run: {self.error}"
        if self.passed:
            return f"{self.rule.name}: passed ({self.rule.description})"
        count = self.unexpected_count if self.unexpected_count is not None else self.observed
        return f"{self.rule.name}: {count} unexpected row(s); {self.rule.description}"


def persist_duckdb_connections() -> None:
    """Add DuckDB to GE's dialects that keep one connection (see the module docstring)."""
    import great_expectations.execution_engine.sqlalchemy_execution_engine as sqlalchemy_engine

    class DuckDBDialect(str):
        value = "duckdb"  # read as `.value` where GE expects its dialect enum

    dialects = sqlalchemy_engine._PERSISTED_CONNECTION_DIALECTS
    if "duckdb" not in [getattr(d, "value", d) for d in dialects]:
        sqlalchemy_engine._PERSISTED_CONNECTION_DIALECTS = (*dialects, DuckDBDialect("duckdb"))


class DuckDBChecks:
    """One in-memory DuckDB, seen by Great Expectations, for one table's check run."""

    def __init__(self, threads: int = 2) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        persist_duckdb_connections()
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        # No progress bars: they would flood the Dagster run log.
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_sql(
            name="duckdb", connection_string="duckdb:///:memory:"
        )
        engine = self.source.get_execution_engine()
        with engine.get_connection() as connection:  # the one persisted connection
            self.db = connection.connection.driver_connection
        self.db.execute(f"SET threads = {threads}")
        self.db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self.spill = tempfile.TemporaryDirectory(prefix="citybrain-checks-")
        self.db.execute(f"SET temp_directory = '{self.spill.name}'")
        self.db.execute("SET enable_progress_bar = false")

    def register(self, name: str, data: Any) -> None:
        """Make an Arrow table or dataset visible to the checks as view `name`."""
        self.db.register(name, data)

    def validate(
        self,
        table: TableSpec,
        rules: list[Rule],
        scope_sql: str,
        docs_dir: Path | None = None,
    ) -> list[Outcome]:
        """Run the rules as one GE validation over `scope_sql`; build Data Docs if asked."""
        # A view, not a copy: each expectation's query streams the Delta partitions in scope,
        # reading only its columns (measured faster and leaner than copying them into DuckDB).
        self.db.execute(f"CREATE OR REPLACE TEMP VIEW {SCOPE_VIEW} AS {scope_sql}")
        failed = {rule.name: error for rule in rules if (error := self.preflight(rule))}
        runnable = [rule for rule in rules if rule.name not in failed]
        checkpoint = self.checkpoint(table, runnable, docs_dir)
        result = checkpoint.run()
        (validation,) = result.run_results.values()
        by_rule = {r.expectation_config.meta["rule"]: r for r in validation.results}
        outcomes = []
        for rule in rules:
            if rule.name in failed:
                outcomes.append(Outcome(rule, False, error=failed[rule.name]))
                continue
            outcomes.append(outcome(rule, by_rule[rule.name]))
        return outcomes

    def checkpoint(self, table: TableSpec, rules: list[Rule], docs_dir: Path | None) -> Any:
        """A GE checkpoint: the suite of `rules` over the scope view, Data Docs if asked."""
        gx = self.gx
        asset = self.source.add_query_asset(name=table.name, query=f"SELECT * FROM {SCOPE_VIEW}")
        batch = asset.add_batch_definition_whole_table("scope")
        suite = self.context.suites.add(gx.ExpectationSuite(name=f"bronze.{table.name}"))
        for rule in rules:
            suite.add_expectation(expectation(gx, rule))
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=table.name, data=batch, suite=suite)
        )
        actions = []
        if docs_dir is not None:
            self.add_docs_site(docs_dir)
            actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs"))
        return self.context.checkpoints.add(
            gx.Checkpoint(
                name=table.name,
                validation_definitions=[definition],
                actions=actions,
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE},
            )
        )

    def preflight(self, rule: Rule) -> str | None:
        """Why an SQL rule cannot run here (a missing reference table, a column of the wrong
        type), found by planning it; None when it can. One failed query would otherwise abort
        the connection's transaction for every rule after it."""
        if rule.kind != "unexpected_rows":
            return None
        sql = rule.params["unexpected_rows_query"].format(batch=SCOPE_VIEW)
        try:
            self.db.execute(f"EXPLAIN {sql}")
        except Exception as err:  # DuckDB's errors share no useful base class
            return first_line(str(err))
        return None

    def add_docs_site(self, docs_dir: Path) -> None:
        """Data Docs as static HTML in `docs_dir` (stewards open its index.html)."""
        docs_dir.mkdir(parents=True, exist_ok=True)
        self.context.add_data_docs_site(
            site_name="stewards",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )

    def close(self) -> None:
        """Release DuckDB and its spill folder."""
        self.db.close()
        self.spill.cleanup()


@contextmanager
def duckdb_checks() -> Iterator[DuckDBChecks]:
    """A `DuckDBChecks`, closed afterwards."""
    checks = DuckDBChecks()
    try:
        yield checks
    finally:
        checks.close()


def expectation(gx: Any, rule: Rule) -> Any:
    """The GE expectation of a rule."""
    params = {**rule.params, "meta": {"rule": rule.name}}
    kind = rule.kind
    if kind == "unique" and len(params["column_list"]) == 1:
        column = params.pop("column_list")[0]
        return gx.expectations.ExpectColumnValuesToBeUnique(column=column, **params)
    if kind == "unexpected_rows":
        params["unexpected_rows_query"] = counted(params["unexpected_rows_query"])
        return sampled_unexpected_rows()(**params)
    return getattr(gx.expectations, EXPECTATIONS[kind])(**params)


TOTAL = "__unexpected_total"


@cache
def sampled_unexpected_rows() -> type:
    """`UnexpectedRowsExpectation` that runs its query once and returns a sample of the rows.

    GE's own runs the query twice (a count, then up to 200 rows), and returns the rows only in
    its COMPLETE format, which would return every unexpected value of every other rule too.
    Here the query carries its total (`count(*) OVER ()`) on each row it returns, so the one
    fetch gives both: an expensive rule (a window over every meter) is paid once.
    """
    import great_expectations as gx

    class UnexpectedRowsWithSample(gx.expectations.UnexpectedRowsExpectation):
        """Offending rows of an SQL query: their count and a sample, from one query."""

        metric_dependencies = ("unexpected_rows_query.table",)

        def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
            rows = metrics["unexpected_rows_query.table"] or []
            count = int(rows[0][TOTAL]) if rows else 0
            sample = [{k: v for k, v in r.items() if k != TOTAL} for r in rows[:SAMPLE]]
            return {
                "success": count == 0,
                "result": {"observed_value": count, "details": {"unexpected_rows": sample}},
            }

    return UnexpectedRowsWithSample


def counted(query: str) -> str:
    """An unexpected-rows query whose rows carry the total number of rows it finds."""
    return f"SELECT *, count(*) OVER () AS {TOTAL} FROM ({query}) AS unexpected"


def outcome(rule: Rule, result: Any) -> Outcome:
    """An `Outcome` from a GE expectation result."""
    info = result.exception_info or {}
    if not isinstance(info.get("raised_exception"), bool):  # GE nests errors per metric
        info = next(iter(info.values()), {}) if info else {}
    if info.get("raised_exception"):
        return Outcome(rule, False, error=first_line(info.get("exception_message") or ""))
    found = result.result or {}
    if rule.kind == "unexpected_rows":
        count = found.get("observed_value")
        rows = (found.get("details") or {}).get("unexpected_rows") or []
        return Outcome(
            rule,
            bool(result.success),
            unexpected_count=count,
            observed=str(count),
            sample=[dict(r) for r in rows[:SAMPLE]],
        )
    observed = found.get("observed_value")
    return Outcome(
        rule,
        bool(result.success),
        element_count=found.get("element_count"),
        unexpected_count=found.get("unexpected_count"),
        observed=None if observed is None else str(observed),
        sample=list(found.get("partial_unexpected_list") or [])[:SAMPLE],
    )


def first_line(message: str) -> str:
    """The first useful line of a (long, nested) exception message."""
    message = re.sub(r"\(Background on this error.*", "", message)
    return message.strip().splitlines()[0][:300] if message.strip() else "unknown error"
