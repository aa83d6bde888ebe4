"""Sharing benchmark: the official `delta-sharing` client reading a share through our server,
against a direct read of the same Parquet files; then 20 clients at once.

Both reads run in the client's own venv (`.venv-sharing`, made by `make test`), each in a fresh
process, and end with the same pandas DataFrame. The table is a synthetic fct_city_event-shaped
share of ROWS rows, partitioned by street, published where the grant `city_ops_overview` puts
it; the server runs as `python -m apps.share_server` in its own process.

    python -m bench sharing                 # writes bench/results/sharing.json
    ROWS=500000 python -m bench.sharing     # a quick run
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import free_port, save

ROWS = int(os.environ.get("ROWS", "5000000"))
SMALL_ROWS = 200_000
CLIENTS = 20
SHARE, SCHEMA, CONSUMER = "city_ops_overview", "events", "city_ops_centre"
BIG, SMALL = "fct_city_event", "mart_dispatch_recommendation"
CLIENT = Path(__file__).resolve().parents[1] / ".venv-sharing" / "bin" / "python"
PEAK = (
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024\n"
)
DIRECT = PEAK + (
    "import sys, time, json, pyarrow.dataset as ds\n"
    "t = time.perf_counter()\n"
    "df = ds.dataset(sys.argv[1], format='parquet', partitioning='hive').to_table().to_pandas()\n"
    "print(json.dumps({'rows': len(df), 'seconds': time.perf_counter() - t, 'peak_mb': peak()}))\n"
)
SERVED = PEAK + (
    "import sys, time, json, delta_sharing\n"
    "t = time.perf_counter()\n"
    "df = delta_sharing.load_as_pandas(sys.argv[1])\n"
    "print(json.dumps({'rows': len(df), 'seconds': time.perf_counter() - t, 'peak_mb': peak()}))\n"
)


def synthetic_events(rows: int, seed: int = 0):
    """fct_city_event-shaped rows: ids, types, times, streets, coordinates, severities."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 16, tzinfo=UTC)
    return pa.table(
        {
            "event_id": pa.array([f"alarms_110:{i:012d}" for i in range(rows)]),
            "event_type": pa.array(
                rng.choice(["alarm.theft", "iot.gas_alarm", "grid.garbage"], rows)
            ),
            "occurred_at": pa.array(
                start + rng.integers(0, 86400 * 7, rows) * timedelta(seconds=1)
            ),
            "street_code": pa.array([f"ST{i:02d}" for i in rng.integers(1, 37, rows)]),
            "lon": rng.uniform(121.4, 121.9, rows),
            "lat": rng.uniform(30.9, 31.4, rows),
            "severity": rng.integers(1, 4, rows),
        }
    )


def publish(root: Path) -> None:
    """The two synthetic tables where the grant's share keeps them."""
    from deltalake import write_deltalake

    for name, rows in ((BIG, ROWS), (SMALL, SMALL_ROWS)):
        write_deltalake(
            str(root / "shares" / SHARE / SCHEMA / name),
            synthetic_events(rows),
            partition_by=["street_code"],
        )


def start_server(root: Path) -> tuple[subprocess.Popen, int]:
    """The sharing server over `root`, once it answers."""
    port = free_port()
    env = os.environ | {"CITYBRAIN_LAKE": str(root)}
    server = subprocess.Popen(
        [sys.executable, "-m", "apps.share_server", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server, port
        time.sleep(0.1)
    raise RuntimeError("the sharing server did not start")


def client(script: str, arg: str) -> dict:
    """Run one client script in the client's venv; its JSON line."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(CLIENT), "-c", script, arg], capture_output=True, text=True, env=env, timeout=900
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def server_peak_mb(pid: int) -> float:
    """The server process's peak memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run() -> dict:
    """Served against direct; then CLIENTS at once."""
    if not CLIENT.exists():
        raise SystemExit("no .venv-sharing: run `make test` once (it creates the client's venv)")
    from assets.lake import LakeResource
    from assets.sharing.recipients import issue, write_profile

    root = Path(tempfile.mkdtemp(prefix="sharing-bench-"))
    server = None
    try:
        publish(root)
        token, expires = issue(LakeResource(root=str(root)), CONSUMER, 1)
        server, port = start_server(root)
        endpoint = f"http://127.0.0.1:{port}/delta-sharing"
        profile = write_profile(root / "profiles", CONSUMER, endpoint, token, expires)
        direct = client(DIRECT, str(root / "shares" / SHARE / SCHEMA / BIG))
        served = client(SERVED, f"{profile}#{SHARE}.{SCHEMA}.{BIG}")
        began = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            many = list(pool.map(lambda _: client(SERVED, f"{profile}#{SHARE}.{SCHEMA}.{SMALL}"),
                                 range(CLIENTS)))  # fmt: skip
        wall = time.perf_counter() - began
        peak = server_peak_mb(server.pid)
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)
    assert direct["rows"] == served["rows"] == ROWS, (direct, served)
    errors = [m["error"] for m in many if "error" in m]
    payload = {
        "rows": ROWS,
        "direct_s": round(direct["seconds"], 2), "direct_peak_mb": round(direct["peak_mb"]),
        "served_s": round(served["seconds"], 2), "served_peak_mb": round(served["peak_mb"]),
        "throughput_ratio": round(direct["seconds"] / served["seconds"], 2),
        "clients": CLIENTS, "client_rows": SMALL_ROWS, "client_errors": len(errors),
        "first_error": errors[0] if errors else None,
        "clients_wall_s": round(wall, 2),
        "client_rows_ok": sum(m.get("rows", 0) == SMALL_ROWS for m in many),
        "server_peak_mb": round(peak),
        "baseline": "pyarrow reading the same Parquet files into pandas, in the client's venv",
        "goal": "throughput ratio at least 0.7; 20 concurrent clients with no error",
    }  # fmt: skip
    save("sharing", payload)
    return payload


if __name__ == "__main__":
    print(run())
