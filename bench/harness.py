"""Run one measured step in a fresh process and read back its time, rows and peak memory.

A fresh process per step keeps peak RSS honest: it is that step's high-water mark alone, not
the largest of everything measured before it.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Measure:
    """One step's cost."""

    step: str
    seconds: float
    peak_mb: float
    rows: int = 0
    extra: dict[str, float] = field(default_factory=dict)  # a step's own figures

    @property
    def rows_per_s(self) -> float:
        """Throughput."""
        return self.rows / self.seconds if self.seconds else 0.0


def timed(step: str, work: Callable[[], int]) -> Measure:
    """Time `work` (which returns a row count) in this process; peak RSS since process start."""
    start = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - start
    return Measure(step, round(seconds, 3), round(peak_rss_mb(), 1), int(rows))


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the process image: unlike
    `ru_maxrss`, it does not inherit the peak of the parent that spawned us."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_subprocess(module: str, *args: str) -> Measure:
    """Run `python -m <module> <args>`, which must print one Measure as JSON on its last line."""
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return Measure(**json.loads(done.stdout.strip().splitlines()[-1]))


def report(measure: Measure) -> None:
    """Print a Measure as the last line of a step's output, for `in_subprocess`."""
    print(json.dumps(asdict(measure)))


def save(name: str, payload: dict) -> Path:
    """Keep one benchmark's figures in bench/results/<name>.json (the page is made from these)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server under test or measure."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
