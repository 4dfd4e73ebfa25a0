"""A bridge between votakvot and MLflow.

- `MlflowSink` (the `mlflow` entry of `votakvot.sinks`) mirrors each trial into an MLflow
  tracking URI, when it is turned on: `init(sinks=[..., "mlflow"])` or `$VOTAKVOT_MLFLOW`. It
  works on a background thread; `flush()` waits for it.
- `import_runs(uri, root)` copies MLflow runs into votakvot trial folders.

MLflow is imported only when the bridge first talks to it, never by `import votakvot_mlflow`.
"""

from __future__ import annotations

from .config import ENV, ENV_EXIT_TIMEOUT, ENV_EXPERIMENT
from .importer import ImportSummary, import_runs
from .sink import MlflowSink
from .worker import flush

__all__ = ["ENV", "ENV_EXIT_TIMEOUT", "ENV_EXPERIMENT", "ImportSummary", "MlflowSink", "flush", "import_runs"]
