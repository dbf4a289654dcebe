"""Serve the twinboard demo: python run.py [--config FILE] [--host H] [--port P]."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.web.serve import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve twinboard (big screens, /api/health).")
    parser.add_argument("--config", type=Path, default=None, help="settings YAML (default config/default.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    args = parser.parse_args(argv)
    return serve(args.config, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
