"""`votakvot report` and `votakvot ui`: the report page written to a file, or served live."""

from __future__ import annotations

import argparse
import contextlib
import os

import votakvot

from .commands import UsageError


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Adds `report` and `ui` to the command line."""
    report = sub.add_parser(
        "report", parents=[common], help="write one self-contained HTML page of the trials (opens offline)"
    )
    report.add_argument("path", nargs="?", default=".", help="folder, URL or glob (default: .)")
    report.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default: report.html)")
    report.add_argument(
        "--max-points", type=int, default=1000, metavar="N", help="rows each curve keeps at most (default: 1000)"
    )
    report.set_defaults(run=write_report)

    ui = sub.add_parser("ui", parents=[common], help="serve the report page live on this machine (Ctrl-C stops)")
    ui.add_argument("path", nargs="?", default=".", help="folder, URL or glob (default: .)")
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; another one has no authentication)",
    )
    ui.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765; 0 takes a free one)")
    ui.add_argument(
        "--poll", type=float, default=1.5, metavar="SECONDS", help="how often the page asks for changes (default: 1.5)"
    )
    ui.set_defaults(run=serve_ui)


def write_report(args: argparse.Namespace) -> int:
    if args.max_points < 10:
        raise UsageError(f"--max-points {args.max_points}: give at least 10 rows per curve")
    written = votakvot.write_report(args.path, args.output, max_points=args.max_points, storage_options=args.options)
    print(f"wrote {written} ({os.path.getsize(written) / 2**20:.1f} MiB)")
    return 0


def serve_ui(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a TCP port (0-65535; 0 takes a free one)")
    if not 0.1 <= args.poll <= 3600:
        raise UsageError(f"--poll {args.poll}: give seconds between 0.1 and 3600")

    def ready(url: str) -> None:
        print(f"votakvot ui: serving {args.path} at {url} (Ctrl-C stops)", flush=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the server listened
        votakvot.serve_ui(
            args.path,
            host=args.host,
            port=args.port,
            poll_seconds=args.poll,
            storage_options=args.options,
            on_ready=ready,
        )
    print("votakvot ui: stopped", flush=True)
    return 0
