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
import threading
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


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's (by default this one's) peak resident memory. Linux's VmHWM belongs to the
    process image: unlike `ru_maxrss`, it does not inherit the peak of the parent that spawned
    it."""
    status = Path(f"/proc/{pid}/status")
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


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, now (MB)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue  # it ended while we looked
    return total / 1024


def run_measured(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, float, str]:
    """Run a command; its seconds, its process tree's peak memory (MB, sampled every 50 ms)
    and the last line it printed."""
    began = time.perf_counter()
    child = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0.0]

    def sample() -> None:
        while child.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(child.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    seconds = time.perf_counter() - began
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed:\n{out.decode()[-3000:]}{err.decode()[-3000:]}"
        )
    lines = out.decode().strip().splitlines()
    return round(seconds, 2), round(peak[0], 1), lines[-1] if lines else ""


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
