"""Render docs/benchmarks.md from bench/results/*.json."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from bench.harness import RESULTS
from bench.pudong_day import STAGES

PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

INTRO = """# Benchmarks

Every figure here is written by `make bench` (`python -m bench`) from `bench/results/*.json`;
do not edit by hand. Each step runs in a fresh process, so its peak memory (max RSS) is its own.
Ratios compare against the baseline named in each section, measured in the same command.
Machine: {machine}, {cores} cores.
"""


def section(heading: str, intro: str, header: str, rows: Iterable[str]) -> str:
    """A page section: its heading, an introduction, and a table whose first column is left- or
    right-aligned as its header says (`<` before a name: text), every other column numbers."""
    names = [n.strip() for n in header.strip("|").split("|")]
    align = "|" + "|".join("---" if n.startswith("<") else "---:" for n in names) + "|"
    header = "| " + " | ".join(n.lstrip("<") for n in names) + " |"
    return "\n".join([f"## {heading}", "", intro, "", header, align, *rows])


def simulator_section(data: dict) -> str:
    """The simulator's throughput table."""
    return section(
        "Simulator (`python -m bench simulator`)",
        f"One simulated day (seed {data['seed']}) written to landing files, truth included. "
        f"Baseline: {data['baseline']}.",
        "scale | rows | seconds | rows/s | peak MB | rows ratio | time ratio | memory ratio",
        (
            f"| {r['scale']} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_s']:,} "
            f"| {r['peak_mb']:.0f} | {r['rows_ratio']} | {r['time_ratio']} | {r['memory_ratio']} |"
            for r in data["runs"]
        ),
    )


def ingest_section(data: dict) -> str:
    """Smart-meter CSV into bronze against DuckDB's COPY of the same file."""
    return section(
        "Ingest (`python -m bench ingest`)",
        f"A gas-meter CSV (`{data['system']}`) into bronze with validation, deduplication,"
        f" quarantine and the ledger. Baseline: {data['baseline']}. Typed floor: a COPY whose CSV"
        " reader parses the contract's types, with the contract's checks on the typed values:"
        " the cheapest COPY that validates at all. Floor: the same COPY through the contract's"
        " validation query as the ingest runs it for this file (which also reads every date"
        " format, normalises the text of fields not plain ASCII in every batch, and makes the"
        " checks that some batch's buffers do not prove every row passes). Both keep"
        " the valid rows, partitioned by event date, without line numbers, duplicates,"
        " quarantine or Delta. The baseline and the ingest run in turn (three times unless"
        " `PAIRS` says): their medians are shown, with the range of the ratios pair by pair.",
        "rows | invalid | file MB | DuckDB s | DuckDB peak MB | typed floor s | typed floor ratio "
        "| floor s | floor ratio | ingest s "
        "| ingest peak MB | rows/s | time ratio | ratio per pair | re-delivery s "
        "| re-delivery / ingest",
        (
            f"| {r['rows']:,} | {r.get('invalid_share', 0.001):.1%} | {r['file_mb']:.0f} "
            f"| {r['duckdb_s']:.1f} | {r['duckdb_peak_mb']:.0f} "
            f"| {typed_floor(r)} | {r['validated_copy_s']:.1f} | {r['validated_copy_ratio']} "
            f"| {r['ingest_s']:.1f} | {r['ingest_peak_mb']:.0f} | {r['ingest_rows_per_s']:,} "
            f"| {r['time_ratio']} | {pair_ratios(r)} "
            f"| {r['redelivery_s']:.2f} | {r['redelivery_share']:.1%} |"
            for r in data["runs"]
        ),
    )


def pair_ratios(run: dict) -> str:
    """The range of a size's ratios, pair by pair (runs before pairs were measured have one)."""
    ratios = [pair["ratio"] for pair in run.get("pairs", [])] or [run["time_ratio"]]
    return f"{min(ratios)}-{max(ratios)}" if len(ratios) > 1 else f"{ratios[0]}"


def typed_floor(run: dict) -> str:
    """The typed floor's seconds and ratio cells (runs before it was measured have none)."""
    if "typed_copy_s" not in run:
        return "- | -"
    return f"{run['typed_copy_s']:.1f} | {run['typed_copy_ratio']}"


def ledger_section(data: dict) -> str:
    """Writing and reading the ledger as a month of deliveries accumulates."""
    return section(
        "Ledger over a month (`python -m bench ledger`)",
        f"{data['systems']} systems, {data['files_a_day']} files a day each, one ledger write per"
        " system and day (the ingest's merge); at each checkpoint day, that day's writes timed"
        " and every system's ledger state read. Baseline: day 1 in the same process. Peak"
        f" memory {data['peak_mb']:.0f} MB.",
        "day | ledger rows | ledger files | versions | day's writes s | ratio to day 1"
        " | read all systems s | ratio to day 1",
        (
            f"| {r['day']} | {r['ledger_rows']:,} | {r['ledger_files']:,} | {r['versions']:,} "
            f"| {r.get('write_all_s', float('nan')):.2f} | {r.get('write_ratio_to_day_1', '–')} "
            f"| {r['read_all_s']:.2f} | {r['ratio_to_day_1']} |"
            for r in data["runs"]
        ),
    )


def checks_section(data: dict) -> str:
    """All quality checks of a bronze table against the ingest of that table."""
    return section(
        "Quality checks (`python -m bench checks`)",
        f"Every check of `{data['system']}` (Great Expectations inside DuckDB, as the Dagster "
        f"checks run them) over the partition just loaded. Baseline: {data['baseline']}. "
        "Measured twice in one command. First each step alone in a fresh process, for its peak "
        "memory, with Great Expectations' start-up (its import) timed apart. Then both as one "
        "Dagster run with the product's executor, whose steps fork from a server that has "
        "already imported the code location and Great Expectations: each step from its start "
        "in its forked worker to its end. Starting that fork server is paid once per run, "
        "before the first step, and is shown apart.",
        "rows | <checks | ingest s | ingest peak MB | GE start-up s | checks s | checks peak MB "
        "| checks / ingest (with start-up) | Dagster run: fork server start s | ingest s "
        "| checks s | checks / ingest",
        (
            f"| {r['rows']:,} | {r['checks']} | {r['ingest_s']:.1f} | {r['ingest_peak_mb']:.0f} "
            f"| {r['ge_startup_s']:.1f} | {r['checks_s']:.1f} | {r['checks_peak_mb']:.0f} "
            f"| {r['time_share_warm']:.0%} ({r['time_share']:.0%}) | {dagster_run(r)} |"
            for r in data["runs"]
        ),
    )


def dagster_run(r: dict) -> str:
    """The checks benchmark's Dagster-run columns of one row."""
    if "fork_server_start_s" not in r:
        return "not measured | | | "
    return (
        f"{r['fork_server_start_s']:.1f} | {r['dagster_ingest_s']:.1f} "
        f"| {r['dagster_checks_s']:.1f} | **{r['dagster_share']:.0%}**"
    )


def city_model_section(data: dict) -> str:
    """Each day's city-model build against the first day's (with nightly upkeep, or without)."""
    nightly = data.get("nightly_maintenance", False)
    upkeep = (
        " After each day's build the maintenance asset compacts and vacuums the ingestion tables"
        " (`NIGHTLY=1`)."
        if nightly
        else " No maintenance runs between days."
    )
    return section(
        "City model, day by day, with nightly maintenance (`NIGHTLY=1 python -m bench city_model`)"
        if nightly
        else "City model, day by day (`python -m bench city_model`)",
        f"A simulated city (scale {data['scale']}) delivered one day at a time for {data['days']} "
        f"days: each day's files ingested, then `dbt build` for that day (incremental models "
        f"rebuild that day and the one before).{upkeep} Baseline: {data['baseline']}.\n\n"
        f"Build time ratio, day 7 / day 1: **{data['ratio_day_7']}**; "
        f"day {data['days']} / day 1: **{data['ratio_last_day']}**.\n\n"
        "Peak MB is that day's `dbt build` process tree, sampled every 50 ms. Files: in the current"
        " versions of the bronze, quarantine and ledger tables, at the end of the day.",
        "day | ingest s | build s | build peak MB | maintenance s | files",
        (
            f"| {r['day']} | {r['ingest_s']:.1f} | {r['build_s']:.1f} | {r['build_peak_mb']:.0f} "
            f"| {cell(r.get('maintenance_s'))} | {cell(r.get('active_files'))} |"
            for r in data["runs"]
        ),
    )


def cell(value: float | None) -> str:
    """A table cell for a figure a run may not have measured."""
    return "–" if value is None else f"{value:,}"


def risk_section(data: dict) -> str:
    """Clone detection and group-rental scoring, each against its baseline."""
    c, g = data["clones"], data["group_rentals"]
    return "\n".join(
        [
            "## Risk models (`python -m bench risk`)",
            "",
            f"Goal: {data['goal']}. Clone detection runs over the simulator's plate reads "
            f"(scale {c['scale']}, {c['days']} days, 1% OCR misreads), ingested into bronze. "
            f"Group-rental scoring fits and scores {g['flats']:,} flats whose features are drawn "
            f"with replacement from a simulated city's ({g['drawn_from']}); the feature query "
            "itself is measured with the end-to-end day.",
            "",
            "| step | rows | seconds | peak MB | baseline | baseline s | baseline peak MB "
            "| time ratio |",
            "|---|---:|---:|---:|---|---:|---:|---:|",
            f"| clone detection ({c['suspects']} suspects) | {c['reads']:,} reads "
            f"| {c['seconds']:.1f} | {c['peak_mb']:.0f} | {c['baseline']} | {c['baseline_s']:.1f} "
            f"| {c['baseline_peak_mb']:.0f} | {c['time_ratio']} |",
            f"| group-rental fit + score + reasons "
            f"({'supervised' if g['supervised'] else 'unsupervised'}) | {g['flats']:,} flats "
            f"| {g['seconds']:.1f} | {g['peak_mb']:.0f} | {g['baseline']} | {g['baseline_s']:.1f} "
            f"| {g['baseline_peak_mb']:.0f} | {g['time_ratio']} |",
        ]
    )


def sharing_section(data: dict) -> str:
    """The official client through our server against a direct read; concurrent clients."""
    return "\n".join(
        [
            "## Sharing (`python -m bench sharing`)",
            "",
            f"The official `delta-sharing` client (1.4.2, its own venv) `load_as_pandas` of a "
            f"{data['rows']:,}-row share through `apps/share_server`, against {data['baseline']}. "
            f"Goal: {data['goal']}.",
            "",
            "| rows | direct s | direct peak MB | through the server s | client peak MB "
            "| throughput ratio |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {data['rows']:,} | {data['direct_s']:.2f} | {data['direct_peak_mb']} "
            f"| {data['served_s']:.2f} | {data['served_peak_mb']} "
            f"| **{data['throughput_ratio']}** |",
            "",
            f"{data['clients']} clients at once, each loading a {data['client_rows']:,}-row table: "
            f"**{data['client_errors']} errors**, {data['client_rows_ok']} complete reads, "
            f"{data['clients_wall_s']:.1f} s wall; the server's peak memory "
            f"{data['server_peak_mb']} MB.",
        ]
    )


def reports_section(data: dict) -> str:
    """Time to first render of every report page."""
    return section(
        "Reports (`python -m bench reports`)",
        f"A simulated week at scale {data['scale']}, ingested, modelled and scored; each page of "
        "the running app opened in Debian's chromium (headless, Playwright) until its title, "
        f"charts and tables are drawn. Goal: {data['goal']}. Baseline: {data['baseline']}. "
        f"Slowest first render: **{data['slowest_cold_s']:.2f} s**. The app's peak memory "
        f"(the Streamlit server, every page read as the district centre): "
        f"{data.get('app_peak_mb', 'not measured')} MB.",
        "<page | first render s | warm s | first / warm",
        (
            f"| {r['title']} (`{r['page']}`) | {r['cold_s']:.2f} | {r['warm_s']:.2f} "
            f"| {r['cold_s'] / r['warm_s']:.2f} |"
            for r in data["runs"]
        ),
    )


def pudong_day_section(data: dict) -> str:
    """One simulated day end to end, stage by stage, at every scale."""
    goal = data["goal"]
    lines = [
        "## The Pudong day, end to end (`python -m bench pudong_day`)",
        "",
        f"One simulated day (seed {data['seed']}) per scale, run stage by stage as Dagster runs "
        "of the product's own definitions, each stage in a fresh process with Dagster's "
        "in-process executor (its steps one after another); peak memory is the stage's whole "
        "process tree (dbt included), sampled every 50 ms. The day's time is the sum of the "
        "stages. Lower bound, measured "
        f"in the same command: {data['baseline']} (files DuckDB cannot read without a "
        f"downloaded extension, e.g. GBK text, are left out of it). Goal at scale "
        f"{goal['scale']}: at most {goal['seconds'] // 60} minutes and {goal['peak_mb']:,} MB: "
        f"**{'met' if data['goal_met'] else 'missed'}**.",
        "",
        "| scale | landing MB | rows loaded | "
        + " | ".join(f"{s} s (MB)" for s in STAGES)
        + " | day s | day peak MB | DuckDB s (MB) | day / DuckDB |",
        "|---:|---:|---:|" + "---:|" * (len(STAGES) + 4),
    ]
    for r in data["runs"]:
        stages = " | ".join(
            f"{r['stages'][s]['seconds']:.1f} ({r['stages'][s]['peak_mb']:,.0f})" for s in STAGES
        )
        lines.append(
            f"| {r['scale']} | {r['landing_mb']:,.0f} | {r.get('rows_loaded', 0):,} | {stages} "
            f"| **{r['total_s']:.0f}** "
            f"| **{r['peak_mb']:,.0f}** | {r['duckdb_s']:.1f} ({r['duckdb_peak_mb']:,.0f}) "
            f"| {r['ratio_to_duckdb']} |"
        )
    if data["skipped_scales"]:
        lines += ["", f"Not run (over the time budget, projected): {data['skipped_scales']}."]
    return "\n".join(lines)


SECTIONS = {
    "simulator": simulator_section,
    "ingest": ingest_section,
    "ledger": ledger_section,
    "checks": checks_section,
    "city_model": city_model_section,
    "city_model_nightly": city_model_section,
    "risk": risk_section,
    "sharing": sharing_section,
    "reports": reports_section,
    "pudong_day": pudong_day_section,
}


def write_page(machine: str) -> Path:
    """Rewrite the page from every result on disk, in a fixed order."""
    parts = [INTRO.format(machine=machine, cores=os.cpu_count())]
    for name, render in SECTIONS.items():
        path = RESULTS / f"{name}.json"
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text("\n\n".join(parts) + "\n")
    return PAGE
