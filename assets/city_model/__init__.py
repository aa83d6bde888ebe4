"""The shared city model: dbt on DuckDB, wired into Dagster."""
