"""Settings shared by the parent, the workers and the table: run sizes per mode and fixed constants."""

from __future__ import annotations

# Values for the size options (and --settle) that the command line leaves unset: (quick, full).
_DEFAULTS = {
    "runs": (100, 500),
    "points": (20_000, 100_000),
    "report": (200, 2_000),
    "report_large": (1_000, 10_000),
    "report_huge": (0, 0),
    "s3_trials": (200, 2_000),
    "s3_tasks": (50, 200),
    "w5_trials": (50, 200),
    "settle": (0.1, 0.5),
}
QUICK_DEFAULTS = {option: quick for option, (quick, _) in _DEFAULTS.items()}
FULL_DEFAULTS = {option: full for option, (_, full) in _DEFAULTS.items()}

FLOOR_TRIES = 5  # floors are bounds: best of 5 in-process tries (as peers.py measures them)
GIT_FILES = 300  # files committed in the git repository of the W1 "with git" jobs
S3_BUCKET = "bench"
# Where the S3 store build keeps the pieces of the shared index that its writing process left.
S3_WRITER_PIECES = f"{S3_BUCKET}/writer-pieces"
W5_STEPS = 1_000  # metric rows per W5 trial (loss and acc at each step, as in peers.py)
PLUGIN_GROUPS = ("votakvot.meta_providers", "votakvot.sinks", "votakvot.serializers")
