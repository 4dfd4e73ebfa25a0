"""Per-trial cost of the MLflow bridge: votakvot alone, with the bridge on, and MLflow alone.

Each mode runs in a fresh process (after one warm-up trial, which pays the imports and the first
connection) against its own copy of an initialised MLflow sqlite store, and prints one row:

- `loop`: ms per trial on the trial's own thread (what the user's code waits for);
- `until mirrored`: ms per trial until MLflow holds everything (`votakvot_mlflow.flush()`);
- the same trials logged directly with `MlflowClient` (create_run, log_batch, set_terminated),
  the way an MLflow user pays for them, synchronously.

    python plugins/votakvot-mlflow/bench.py            # 200 trials x 100 metric rows, 3 repeats
    python plugins/votakvot-mlflow/bench.py --quick    # 50 trials, 1 repeat
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("votakvot", "bridge", "bridge-dead-server", "mlflow-client")
TITLES = {
    "votakvot": "votakvot alone (bridge installed, off)",
    "bridge": "votakvot + bridge on (sqlite store)",
    "bridge-dead-server": "votakvot + bridge on, tracking server down",
    "mlflow-client": "MLflow alone (MlflowClient, sqlite store)",
}


def _trial(votakvot, i: int, rows: int) -> None:
    with votakvot.trial("bench", lr=0.1, depth=i % 7, opt="sgd", seed=i, batch=64) as t:
        for step in range(rows):
            t.meter(loss=1.0 / (step + 1))
        t.result = 0.5


def _mlflow_trial(client, experiment_id: str, i: int, rows: int) -> None:
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, run_name=f"t{i}")
    params = {"lr": 0.1, "depth": i % 7, "opt": "sgd", "seed": i, "batch": 64}
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("loss", 1.0 / (s + 1), now, s) for s in range(rows)],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    client.log_batch(run.info.run_id, metrics=[Metric("result", 0.5, now, 0)])
    client.set_terminated(run.info.run_id)


def child(mode: str, trials: int, rows: int, folder: Path) -> dict[str, float]:
    """Runs one mode in this process and returns its timings."""
    os.chdir(folder)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    if mode == "mlflow-client":
        import mlflow

        client = mlflow.MlflowClient(uri)
        experiment_id = client.create_experiment("bench")
        _mlflow_trial(client, experiment_id, -1, rows)
        start = time.perf_counter()
        for i in range(trials):
            _mlflow_trial(client, experiment_id, i, rows)
        loop = time.perf_counter() - start
        return {"loop": loop / trials * 1000, "mirrored": loop / trials * 1000}
    if mode == "bridge":
        os.environ["VOTAKVOT_MLFLOW"] = uri
    elif mode == "bridge-dead-server":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["VOTAKVOT_MLFLOW"] = f"http://127.0.0.1:{s.getsockname()[1]}"
    import warnings

    import votakvot_mlflow

    import votakvot

    warnings.simplefilter("ignore")  # the dead server's MirrorWarning is expected here
    votakvot.init(path=str(folder / "results"), meta_providers={})
    _trial(votakvot, -1, rows)
    votakvot_mlflow.flush()
    start = time.perf_counter()
    for i in range(trials):
        _trial(votakvot, i, rows)
    loop = time.perf_counter() - start
    votakvot_mlflow.flush()
    mirrored = time.perf_counter() - start
    return {"loop": loop / trials * 1000, "mirrored": mirrored / trials * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 trials, one repeat")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--rows", type=int, default=100, help="metric rows per trial")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    trials = args.trials or (50 if args.quick else 200)
    if args.child:
        print(json.dumps(child(args.child, trials, args.rows, args.folder)))
        return
    repeats = args.repeats or (1 if args.quick else 3)
    import mlflow

    with tempfile.TemporaryDirectory(prefix="votakvot-mlflow-bench-") as scratch:
        template = Path(scratch) / "template.db"
        mlflow.MlflowClient(f"sqlite:///{template}").search_experiments()  # the tables, made once
        results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for _ in range(repeats):
            for mode in MODES:
                folder = Path(tempfile.mkdtemp(dir=scratch))
                shutil.copyfile(template, folder / "mlflow.db")
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--folder", str(folder), "--trials", str(trials),
                     "--rows", str(args.rows)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["loop"] for r in results["votakvot"])
    print(f"{trials} trials x 5 params, {args.rows} metric rows, a float result; medians of {repeats} fresh processes")
    print()
    print("| mode | ms/trial on the trial's thread | x votakvot alone | ms/trial until in MLflow |")
    print("|---|---:|---:|---:|")
    for mode in MODES:
        loop = statistics.median(r["loop"] for r in results[mode])
        mirrored = statistics.median(r["mirrored"] for r in results[mode])
        print(f"| {TITLES[mode]} | {loop:.2f} | {loop / base:.2f}x | {mirrored:.2f} |")


if __name__ == "__main__":
    main()
