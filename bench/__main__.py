"""`python -m bench` (`make bench`): run every benchmark, then rewrite docs/benchmarks.md.

`python -m bench simulator` runs just one; the page is always rebuilt from every result on disk.
"""

from __future__ import annotations

import importlib
import platform
import sys

from bench.page import write_page

BENCHMARKS = (
    "simulator", "ingest", "ledger", "checks", "city_model", "risk", "sharing", "reports",
    "pudong_day",
)  # fmt: skip


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) and rewrite the page."""
    chosen = argv or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in chosen:
        print(f"bench: {name} ...", flush=True)
        importlib.import_module(f"bench.{name}").run()
    path = write_page(machine=f"{platform.machine()}, {platform.python_version()}")
    print(f"bench: wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
