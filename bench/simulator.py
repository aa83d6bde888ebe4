"""Simulator throughput and peak memory for one day at scales 0.01 and 0.1.

The baseline is the scale-0.01 run in the same command: if cost grows linearly, the 0.1 run
takes about 10x as long at the same rows/s, and flat streaming keeps its memory far below 10x.

    python -m bench.simulator            # both scales, writes bench/results/simulator.json
    python -m bench.simulator step 0.1 /tmp/out   # one measured step (used internally)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench.harness import Measure, in_subprocess, report, save, timed

SCALES = (0.01, 0.1)


def step(scale: float, out: Path) -> Measure:
    """Generate one day at `scale` into `out`, measured."""
    from citysim.config import RunConfig
    from citysim.generate import generate

    cfg = RunConfig(scale=scale, days=1, seed=1, out=out / "landing", truth_out=out / "truth")
    return timed(f"simulate scale {scale}", lambda: generate(cfg, progress=False)["rows_total"])


def run() -> dict:
    """Both scales, each in a fresh process; ratios against the smallest."""
    rows = []
    for scale in SCALES:
        out = Path(tempfile.mkdtemp(prefix="citysim-bench-"))
        try:
            m = in_subprocess("bench.simulator", "step", str(scale), str(out))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        rows.append({"scale": scale, **m.__dict__, "rows_per_s": round(m.rows_per_s)})
    base = rows[0]
    for r in rows:
        r["time_ratio"] = round(r["seconds"] / base["seconds"], 2)
        r["rows_ratio"] = round(r["rows"] / base["rows"], 2)
        r["memory_ratio"] = round(r["peak_mb"] / base["peak_mb"], 2)
    payload = {
        "benchmark": "simulator",
        "days": 1,
        "seed": 1,
        "baseline": "scale 0.01",
        "runs": rows,
    }
    save("simulator", payload)
    return payload


if __name__ == "__main__":
    if sys.argv[1:2] == ["step"]:
        report(step(float(sys.argv[2]), Path(sys.argv[3])))
    else:
        print(run())
