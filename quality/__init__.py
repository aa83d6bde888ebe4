"""Data quality: expectation suites, run by Great Expectations inside DuckDB, as Dagster checks.

`rules` turns a table's description (plain `TableSpec`, built by the assets from contracts) into
rules; `domain` holds the city's own rules (plates, ID numbers, phones, areas, meters); `engine`
runs them as one Great Expectations validation over a DuckDB view; `history` keeps every result;
`checks` is the one factory that makes them Dagster asset checks.
"""
