"""Settings shared by the parent, the workers and the table: run sizes per mode and fixed constants."""

from __future__ import annotations

# Values for the size options (and --settle) that the command line leaves unset.
QUICK_DEFAULTS = dict(
    runs=100,
    points=20_000,
    report=200,
    report_large=1_000,
    report_huge=0,
    s3_trials=200,
    s3_tasks=50,
    w5_trials=50,
    settle=0.1,
)
FULL_DEFAULTS = dict(
    runs=500,
    points=100_000,
    report=2_000,
    report_large=10_000,
    report_huge=0,
    s3_trials=2_000,
    s3_tasks=200,
    w5_trials=200,
    settle=0.5,
)

FLOOR_TRIES = 5  # floors are bounds: best of 5 in-process tries (as peers.py measures them)
GIT_FILES = 300  # files committed in the git repository of the W1 "with git" jobs
S3_BUCKET = "bench"
W5_STEPS = 1_000  # metric rows per W5 trial (loss and acc at each step, as in peers.py)
PLUGIN_GROUPS = ("votakvot.meta_providers", "votakvot.sinks", "votakvot.serializers")
