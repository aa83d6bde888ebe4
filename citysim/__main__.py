"""Command line: `python -m citysim generate --scale 0.01 --days 7 --seed 1 --out lake/landing`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from citysim.config import RunConfig
from citysim.generate import generate


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the simulator."""
    parser = argparse.ArgumentParser(prog="citysim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write landing files and the ground truth")
    gen.add_argument("--scale", type=float, default=0.01, help="1.0 = all of Pudong (default 0.01)")
    gen.add_argument("--days", type=int, default=1, help="days to simulate (default 1)")
    gen.add_argument("--seed", type=int, default=1, help="same seed, same bytes (default 1)")
    gen.add_argument(
        "--start", type=date.fromisoformat, default=date(2026, 11, 16), help="first day"
    )
    gen.add_argument("--out", type=Path, default=Path("lake/landing"), help="landing folder")
    gen.add_argument("--truth-out", type=Path, default=Path("truth"), help="ground-truth folder")
    gen.add_argument("--dirt-rate", type=float, default=0.01, help="share of rows made dirty")
    gen.add_argument("--only", nargs="*", default=[], help="only these systems (contract ids)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1 or args.days < 1 or not 0 <= args.dirt_rate < 0.5:
        parser.error("need 0 < --scale <= 1, --days >= 1 and 0 <= --dirt-rate < 0.5")
    cfg = RunConfig(
        scale=args.scale,
        days=args.days,
        seed=args.seed,
        out=args.out,
        truth_out=args.truth_out,
        start=args.start,
        dirt_rate=args.dirt_rate,
        only=tuple(args.only),
    )
    began = time.perf_counter()
    summary = generate(cfg, progress=not args.quiet)
    took = time.perf_counter() - began
    print(
        f"citysim: {summary['rows_total']:,} rows in {summary['files']:,} files "
        f"({summary['rows_total'] / took:,.0f} rows/s) -> {cfg.out}; truth -> {cfg.truth_out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
