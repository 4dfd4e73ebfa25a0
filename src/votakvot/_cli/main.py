"""`votakvot` on the command line: argument parsing, dispatch, exit codes and error messages."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from . import commands, look, select

_READING = "print JSON records instead of a table (datetimes as ISO strings, missing values as null)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="votakvot", description="Look at trials stored by votakvot, on any path or fsspec URL."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an fsspec storage option (repeatable); a VALUE that is JSON is parsed: anon=true, "
        'client_kwargs=\'{"endpoint_url": "http://127.0.0.1:9000"}\'',
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser("ls", parents=[common], help="one line per trial")
    ls.add_argument("path", nargs="?", default=".", help="folder, URL or glob (default: .)")
    ls.add_argument("--status", action="append", default=[], help="keep trials with this status (repeatable)")
    ls.add_argument("--since", help="keep trials created at or after this ISO time or this long ago (2h, 3d)")
    ls.add_argument("--before", help="keep trials created before this ISO time or this long ago (2h, 3d)")
    ls.add_argument("--where", metavar="EXPR", help="a pandas DataFrame.query expression on the report: 'lr < 0.1'")
    ls.add_argument("--sort", metavar="COL", help="sort by this column; -COL sorts descending")
    ls.add_argument("--top", type=int, metavar="N", help="only the first N trials (after sorting)")
    _add_formats(ls, csv="print CSV with the report's columns")
    ls.set_defaults(run=commands.ls)

    show = sub.add_parser("show", parents=[common], help="one trial: document, git, traceback, files, last metrics")
    show.add_argument("trial", help="a tid below --root (the short one ls shows is fine) or a trial folder")
    show.add_argument("--root", default=".", help="where tids are looked up (default: .)")
    _add_formats(show)
    show.set_defaults(run=commands.show)

    diff = sub.add_parser("diff", parents=[common], help="the fields (or, with --code, the code) two trials differ in")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("paths", nargs="*", metavar="PATH", help="with --code: only these files or folders")
    diff.add_argument("--root", default=".", help="where tids are looked up (default: .)")
    diff.add_argument(
        "--code", action="store_true", help="the git diff between the working trees the two trials ran with"
    )
    diff.add_argument("--repo", help="with --code: the git repository holding both trees (default: the current one)")
    _add_formats(diff)
    diff.set_defaults(run=commands.diff)

    metrics = sub.add_parser("metrics", parents=[common], help="metric rows of trials")
    metrics.add_argument("trials", nargs="*", metavar="TID", help="tids below --root or trial folders")
    metrics.add_argument("--path", help="every trial below this folder, URL or glob instead")
    metrics.add_argument("--root", default=".", help="where tids are looked up (default: .)")
    metrics.add_argument("--series", help="one named series ('' for the default one)")
    metrics.add_argument("--tail", type=int, metavar="N", help="only the last N rows of each trial")
    _add_formats(metrics, csv="print CSV")
    metrics.set_defaults(run=commands.metrics)

    running = sub.add_parser("running", parents=[common], help="trials still running: progress and heartbeat")
    running.add_argument("path", nargs="?", default=".", help="folder, URL or glob (default: .)")
    _add_formats(running)
    running.set_defaults(run=commands.running)

    rm = sub.add_parser("rm", parents=[common], help="remove trials (a dry run unless --yes)")
    rm.add_argument("path", help="folder, URL or glob: every trial at or below it")
    rm.add_argument("--status", action="append", default=[], help="only trials with this status (repeatable)")
    rm.add_argument("--before", help="only trials created before this ISO time or this long ago (2h, 3d)")
    rm.add_argument("--yes", action="store_true", help="remove them (without it nothing is removed)")
    rm.add_argument("--force", action="store_true", help="remove running trials too")
    rm.set_defaults(run=commands.rm)

    look.add_commands(sub, common)
    return parser


def _add_formats(command: argparse.ArgumentParser, *, csv: str | None = None) -> None:
    """`--json` (and `--csv`, where a command has one), which exclude each other."""
    formats = command.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help=_READING)
    if csv is not None:
        formats.add_argument("--csv", action="store_true", help=csv)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
    print(f"votakvot: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the exit code (0 done, 1 not found or a votakvot error, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warning
    import votakvot

    try:
        args.options = select.storage_options(args.storage_option)
        return int(args.run(args))
    except commands.UsageError as e:
        parser.exit(2, f"votakvot {args.command}: error: {e}\n")
    except BrokenPipeError:  # `votakvot ls | head`
        sys.stderr.close()
    except (votakvot.errors.VotakvotError, OSError) as e:
        print(f"votakvot {args.command}: error: {e}", file=sys.stderr)
    return 1
