"""Rows written as Parquet files by Arrow and committed to Delta as add actions (`delta_files`),
and the replace of an earlier attempt's rows (`tables.replace_file_rows`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from assets.ingest import delta_files, tables
from assets.ingest.delta_files import file_stats, stat_text
from assets.ingest.tables import earlier_files, replace_file_rows, retried

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("reading", pa.float64()),
        ("flag", pa.bool_()),
        ("_source_hash", pa.dictionary(pa.int32(), pa.string())),
        ("_source_line", pa.int64()),
        ("event_date", pa.date32()),
    ]
)
START = datetime(2026, 11, 10, tzinfo=UTC)


def rows(n: int, source: str, seed: int = 0) -> list[pa.RecordBatch]:
    """`n` rows over five days (and some without a day), shuffled, in batches of 97."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 6, n)
    dates = [None if d == 5 else date(2026, 11, 10) + timedelta(days=int(d)) for d in days]
    table = pa.table(
        {
            "key": [f"K{i:06d}" for i in range(n)],
            "at": [
                START + timedelta(seconds=int(s), microseconds=7) for s in rng.integers(0, 9e5, n)
            ],
            "reading": [
                None if i % 11 == 0 else float(v) for i, v in enumerate(rng.normal(0, 9, n))
            ],
            "flag": rng.integers(0, 2, n).astype(bool),
            "_source_hash": pa.array([source] * n).dictionary_encode(),
            "_source_line": np.arange(2, n + 2),
            "event_date": pa.array(dates, pa.date32()),
        },
        schema=SCHEMA,
    )
    return table.to_batches(max_chunksize=97)


@pytest.fixture
def small_files(monkeypatch) -> None:
    """Row groups of 64 rows and files of about 4 KB, so that files roll over."""
    monkeypatch.setattr(delta_files, "ROW_GROUP_ROWS", 64)
    monkeypatch.setattr(delta_files, "MAX_WAITING_ROWS", 256)
    monkeypatch.setattr(delta_files, "TARGET_FILE_SIZE", 4096)


def sorted_rows(table: pa.Table) -> list[dict]:
    """The rows, by key, with dictionaries decoded."""
    table = table.cast(tables.retyped_schema(table.schema, tables.decoded))
    return table.sort_by("key").select(SCHEMA.names).to_pylist()


def test_rows_land_whole_in_their_partitions_with_true_statistics(tmp_path, small_files) -> None:
    uri = str(tmp_path / "t")
    batches = rows(3000, "a" * 64)
    replace_file_rows(uri, batches, SCHEMA, ["a" * 64], "_source_hash", ["event_date"])
    table = DeltaTable(uri)
    assert sorted_rows(table.to_pyarrow_table()) == sorted_rows(pa.Table.from_batches(batches))
    history = table.history(1)[0]
    assert "predicate" not in history.get("operationParameters", {})  # not delta-rs's rewrite
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    folders = {a["path"].split("/")[0] for a in actions}
    assert folders == {f"event_date={date(2026, 11, d)}" for d in range(10, 15)} | {
        "event_date=__HIVE_DEFAULT_PARTITION__"
    }
    assert len(actions) > 2 * len(folders)  # files rolled over at TARGET_FILE_SIZE
    log = [
        json.loads(line) for line in (tmp_path / "t/_delta_log/00000000000000000001.json").open()
    ]
    stats = {a["add"]["path"]: json.loads(a["add"]["stats"]) for a in log if "add" in a}
    for action in actions:
        file = pq.read_table(tmp_path / "t" / action["path"])
        assert action["size_bytes"] == (tmp_path / "t" / action["path"]).stat().st_size
        day = action["partition.event_date"]
        folder = f"event_date={day or '__HIVE_DEFAULT_PARTITION__'}/"
        assert file.num_rows > 0 and action["path"].startswith(folder)
        want = {"numRecords": file.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
        for name in ("key", "at", "reading", "flag", "_source_hash", "_source_line"):
            column = file.column(name)
            want["nullCount"][name] = column.null_count
            least, greatest = pc.min_max(
                column.cast(SCHEMA.field(name).type.value_type)
                if name == "_source_hash"
                else column
            ).values()
            if least.is_valid:
                want["minValues"][name] = json_value(least.as_py())
                want["maxValues"][name] = json_value(greatest.as_py())
        assert stats[action["path"]] == want


def json_value(value: object) -> object:
    """A statistic as the Delta log holds it."""
    return stat_text(value) if isinstance(value, datetime | date) else value


def test_statistics_leave_out_what_they_cannot_say() -> None:
    """A column of NULLs has a NULL count and no range; an infinite number has no range; times
    are UTC with `Z`, and a fraction of a second only when there is one."""
    table = pa.table(
        {
            "empty": pa.array([None, None], pa.string()),
            "number": [1.5, float("inf")],
            "at": pa.array(
                [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")
            ),
        }
    )
    sink = pa.BufferOutputStream()
    footers: list = []
    with pq.ParquetWriter(sink, table.schema, metadata_collector=footers) as writer:
        writer.write_table(table)
    stats = json.loads(file_stats(footers[0], table.schema))
    assert stats == {
        "numRecords": 2,
        "minValues": {"at": "2026-01-02T03:04:05Z"},
        "maxValues": {"at": "2026-01-02T03:04:05Z"},
        "nullCount": {"empty": 2, "number": 0, "at": 0},
    }
    assert (
        stat_text(datetime(2026, 1, 2, 11, 0, 0, 250, tzinfo=UTC)) == "2026-01-02T11:00:00.000250Z"
    )
    assert stat_text(datetime(2026, 1, 2, 11, 0)) == "2026-01-02T11:00:00"  # naive: no zone


def held(uri: str) -> list[tuple[str, int]]:
    """Each hash the table holds rows of, and how many."""
    column = DeltaTable(uri).to_pyarrow_table().column("_source_hash").cast(pa.string())
    return sorted((v["values"], v["counts"]) for v in pc.value_counts(column).to_pylist())


def rows_of(uri: str, source: str) -> list[dict]:
    """The table's rows of one hash, by key."""
    table = DeltaTable(uri).to_pyarrow_table()
    return sorted_rows(
        table.filter(pc.equal(table.column("_source_hash").cast(pa.string()), source))
    )


def test_an_earlier_attempts_rows_are_replaced_not_doubled(tmp_path, small_files) -> None:
    """A crash between the bronze commit and the ledger's: the re-run's write takes out the
    earlier files of its hash, in the same commit as it adds its own; other files stay."""
    uri, a, b = str(tmp_path / "t"), "a" * 64, "b" * 64
    replace_file_rows(uri, rows(500, a, seed=1), SCHEMA, [a], "_source_hash", ["event_date"])
    replace_file_rows(uri, rows(300, b, seed=2), SCHEMA, [b], "_source_hash", ["event_date"])
    before = {f["path"] for f in pa.table(DeltaTable(uri).get_add_actions()).to_pylist()}
    again = rows(500, a, seed=1)
    replace_file_rows(uri, again, SCHEMA, [a], "_source_hash", ["event_date"])
    assert held(uri) == [(a, 500), (b, 300)]
    assert DeltaTable(uri).version() == 3  # created, a, b, and one commit for the replace
    after = {f["path"] for f in pa.table(DeltaTable(uri).get_add_actions()).to_pylist()}
    assert before - after and after - before
    assert rows_of(uri, a) == sorted_rows(pa.Table.from_batches(again))


def test_a_compacted_file_loses_only_the_earlier_attempts_rows(tmp_path, small_files) -> None:
    """After compaction a file holds several deliveries: the replace writes its other rows anew
    and removes it. An earlier attempt's file of its hash alone goes wherever it is, even in a
    day this write does not fill (its event dates read differently since)."""
    uri, a, b, c = str(tmp_path / "t"), "a" * 64, "b" * 64, "c" * 64
    replace_file_rows(uri, rows(400, a, seed=1), SCHEMA, [a], "_source_hash", ["event_date"])
    replace_file_rows(uri, rows(300, c, seed=2), SCHEMA, [c], "_source_hash", ["event_date"])
    DeltaTable(uri).optimize.compact()
    stats = pa.table(DeltaTable(uri).get_add_actions(flatten=True)).to_pylist()
    assert all(f["min._source_hash"] == a and f["max._source_hash"] == c for f in stats)
    elsewhere = pa.Table.from_batches(rows(60, b, seed=3)).to_pylist()
    for row in elsewhere:
        row["event_date"] = date(2026, 1, 1)
    earlier = pa.Table.from_pylist(elsewhere, SCHEMA).to_batches()
    replace_file_rows(uri, earlier, SCHEMA, [b], "_source_hash", ["event_date"])
    compacted = {f["path"] for f in stats}
    again = rows(100, b, seed=4)  # b is in the compacted files' range: they are read, in vain
    replace_file_rows(uri, again, SCHEMA, [b], "_source_hash", ["event_date"])
    assert compacted <= {f["path"] for f in pa.table(DeltaTable(uri).get_add_actions()).to_pylist()}
    assert held(uri) == [(a, 400), (b, 100), (c, 300)]
    replace_file_rows(uri, rows(300, c, seed=2), SCHEMA, [c], "_source_hash", ["event_date"])
    assert held(uri) == [(a, 400), (b, 100), (c, 300)]
    assert rows_of(uri, a) == sorted_rows(pa.Table.from_batches(rows(400, a, seed=1)))
    assert rows_of(uri, b) == sorted_rows(pa.Table.from_batches(again))


def test_files_that_may_hold_an_earlier_attempt_are_found_by_their_statistics(tmp_path) -> None:
    uri = str(tmp_path / "t")
    for source in ("b" * 64, "d" * 64):
        replace_file_rows(uri, rows(50, source), SCHEMA, [source], "_source_hash", ["event_date"])
    table = DeltaTable(uri)

    def found(hashes: list[str]) -> set[str]:
        files = earlier_files(table, hashes, "_source_hash", "event_date", set())
        return {file["min._source_hash"] for file, _ in files}

    assert found(["d" * 64]) == {"d" * 64}
    assert found(["c" * 64, "a" * 64, "e" * 64]) == set()
    assert found(["c" * 64, "b" * 64]) == {"b" * 64}


def test_statistics_cut_short_stand_for_ranges_that_include_their_ends() -> None:
    """A greatest value cut to `bb` stands for any text starting with it; a file without
    statistics may hold anything."""

    class Files:
        def get_add_actions(self, flatten: bool) -> pa.Table:
            return pa.table({"path": ["f", "g"], "min.h": ["b", None], "max.h": ["bb", None]})

    def found(hashes: list[str]) -> list[str]:
        return [file["path"] for file, _ in earlier_files(Files(), hashes, "h")]

    assert found(["bbzz"]) == ["f", "g"]
    assert found(["b"]) == ["f", "g"]
    assert found(["bc", "a"]) == ["g"]


def test_two_machines_writing_one_table_at_once_conflict_and_the_retry_replaces(
    tmp_path, monkeypatch
) -> None:
    """The second writer looked at the table (no rows of the file) before the first committed
    them: its commit fails on the shared app transaction, and its retry rewrites them."""
    uri, a = str(tmp_path / "t"), "a" * 64
    write = delta_files.write_files
    raced = []

    def first_commits_meanwhile(*args, **kwargs):
        if not raced:
            raced.append(True)
            replace_file_rows(uri, rows(40, a), SCHEMA, [a], "_source_hash", ["event_date"])
        return write(*args, **kwargs)

    monkeypatch.setattr(tables, "write_files", first_commits_meanwhile)
    with pytest.raises(CommitFailedError):
        replace_file_rows(uri, rows(40, a), SCHEMA, [a], "_source_hash", ["event_date"])
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 40
    retried(
        lambda: replace_file_rows(uri, rows(40, a), SCHEMA, [a], "_source_hash", ["event_date"])
    )
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 40


def test_times_before_the_year_1000_keep_statistics_that_readers_use(tmp_path) -> None:
    """Year 1 is a common "no value" in source systems: its statistic is written in four digits
    (`0001-01-01T00:00:00Z`), which readers parse; `1-01-01...` they read as none and skipped
    the file for any condition on the column."""
    uri, source = str(tmp_path / "t"), "a" * 64
    schema = pa.schema(
        [("at", pa.timestamp("us", tz="UTC")), ("naive", pa.timestamp("us")), ("h", pa.string())]
    )
    times = [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 5, 1, tzinfo=UTC), START]
    naive = [t.replace(tzinfo=None) for t in times]
    batch = pa.record_batch([times, naive, [source] * 3], schema=schema)
    replace_file_rows(uri, [batch], schema, [source], "h")
    table = DeltaTable(uri)
    stats = pa.table(table.get_add_actions(flatten=True)).to_pylist()[0]
    assert (stats["min.at"], stats["max.at"]) == (times[0], START)
    assert (stats["min.naive"], stats["max.naive"]) == (naive[0], naive[2])
    recent = pa.scalar(datetime(2020, 1, 1, tzinfo=UTC), schema.field("at").type)
    assert table.to_pyarrow_dataset().to_table(filter=pc.field("at") >= recent).num_rows == 1
    assert table.to_pyarrow_dataset().to_table(filter=pc.field("at") < recent).num_rows == 2


def test_a_column_of_another_type_is_written_in_the_tables_type_or_refused(tmp_path) -> None:
    """A contract that changes a column's type: values that convert are written in the type
    the table keeps (the table stays readable), others refuse the write, naming the column."""
    numbers = pa.schema([("x", pa.int64()), ("h", pa.string())])
    texts = pa.schema([("x", pa.string()), ("h", pa.string())])
    uri, a, b = str(tmp_path / "numbers"), "a" * 64, "b" * 64
    replace_file_rows(uri, [pa.record_batch([[1, 2], [a, a]], schema=numbers)], numbers, [a], "h")
    with pytest.raises(tables.ColumnTypeChanged, match="column x arrives as string"):
        replace_file_rows(uri, [pa.record_batch([["x"], [b]], schema=texts)], texts, [b], "h")
    replace_file_rows(uri, [pa.record_batch([["7"], [b]], schema=texts)], texts, [b], "h")
    assert sorted(DeltaTable(uri).to_pyarrow_table().column("x").to_pylist()) == [1, 2, 7]
    uri = str(tmp_path / "texts")
    replace_file_rows(uri, [pa.record_batch([["x"], [a]], schema=texts)], texts, [a], "h")
    replace_file_rows(uri, [pa.record_batch([[5], [b]], schema=numbers)], numbers, [b], "h")
    read = DeltaTable(uri).to_pyarrow_dataset().to_table(filter=pc.field("x") == "5")
    assert read.column("h").to_pylist() == [b]
