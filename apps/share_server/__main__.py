"""`python -m apps.share_server [--host 127.0.0.1] [--port 8080]`: serve the lake's shares."""

from __future__ import annotations

import argparse

import uvicorn

from apps.share_server.server import make_app
from assets.lake import LakeResource


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m apps.share_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    lake = LakeResource.from_env()
    print(f"Delta Sharing server: http://{args.host}:{args.port}/delta-sharing over {lake.root}")
    uvicorn.run(make_app(lake), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
