"""`votakvot report` and `votakvot ui`: the report page written to a file, or served live."""

from __future__ import annotations

import argparse
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


def write_report(args: argparse.Namespace) -> int:
    if args.max_points < 10:
        raise UsageError(f"--max-points {args.max_points}: give at least 10 rows per curve")
    written = votakvot.write_report(args.path, args.output, max_points=args.max_points, storage_options=args.options)
    print(f"wrote {written} ({os.path.getsize(written) / 2**20:.1f} MiB)")
    return 0
