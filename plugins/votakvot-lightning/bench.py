"""Lightning training steps per second with and without VotakvotLogger, printed as a table.

    python plugins/votakvot-lightning/bench.py            # ~2 min
    python plugins/votakvot-lightning/bench.py --quick    # ~20 s

A 2-layer MLP on random tensors (batch 32) fits for `--steps` steps on the CPU with no logger,
with Lightning's own CSVLogger and with VotakvotLogger, each logging every step and every 50
steps (Lightning's default). The configurations take turns, `--repeats` times each; the tables
show the best of them. Times are CPU times of the process (all its threads, votakvot's
background writer included), so that other load on the machine counts as little as possible.
A second table times `log_metrics` alone (the logger's share of a logged step), and a line
gives the fixed cost of a trial per fit. votakvot's entry-point plug-ins are off
(`VOTAKVOT_PLUGINS=0`, as in the core's benchmark) unless `--plugins` is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset
from votakvot_lightning import VotakvotLogger

import votakvot


class MLP(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


LOGGERS: dict[str, Callable[[str], Any]] = {
    "no logger": lambda folder: False,
    "CSVLogger": lambda folder: CSVLogger(folder),
    "VotakvotLogger": lambda folder: VotakvotLogger("bench"),
}


def steps_per_second(make_logger: Callable[[str], Any], steps: int, every: int, folder: str) -> float:
    g = torch.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(torch.randn(steps * 32, 16, generator=g), torch.randn(steps * 32, 1)), 32)
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=make_logger(folder),
        log_every_n_steps=every,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    model = MLP()
    started = time.process_time()
    trainer.fit(model, loader)
    return steps / (time.process_time() - started)


def log_metrics_us(make_logger: Callable[[str], Any], calls: int, folder: str) -> float:
    logger = make_logger(folder)
    logger.log_hyperparams({"lr": 0.01})
    metrics = {"train_loss": 0.5, "epoch": 0, "lr": 0.01}
    started = time.process_time()
    for step in range(calls):
        logger.log_metrics(metrics, step)
    elapsed = time.process_time() - started
    logger.finalize("success")  # CSVLogger writes its rows here
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="500 steps, 3 repeats")
    parser.add_argument("--plugins", action="store_true", help="keep votakvot's installed entry-point plug-ins on")
    args = parser.parse_args()
    if not args.plugins:
        os.environ["VOTAKVOT_PLUGINS"] = "0"
    if args.quick:
        args.steps, args.repeats = 500, 3
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # steadier numbers; the model is far too small to gain from threads

    with tempfile.TemporaryDirectory() as folder:
        votakvot.init(path=f"{folder}/votakvot")
        steps_per_second(LOGGERS["no logger"], 50, 1, folder)  # imports and first-run costs
        rates: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.repeats):
            for every in (1, 50):
                for name, make in LOGGERS.items():
                    rate = steps_per_second(make, args.steps, every, folder)
                    rates.setdefault((name, every), []).append(rate)

        print(
            f"Lightning {L.__version__}, torch {torch.__version__}, {args.steps} steps, "
            f"best of {args.repeats}, 1 thread\n"
        )
        print("| logger | logged every | steps/s | vs no logger | µs per step vs no logger |")
        print("|---|---:|---:|---:|---:|")
        for every in (1, 50):
            base = max(rates[("no logger", every)])
            for name in LOGGERS:
                rate = max(rates[(name, every)])
                extra = (1 / rate - 1 / base) * 1e6
                print(f"| {name} | {every} | {rate:,.0f} | {rate / base:.2f}x | {extra:+.0f} |")

        fits = {
            name: [1 / steps_per_second(LOGGERS[name], 1, 1, folder) for _ in range(3 * args.repeats)]
            for name in ("no logger", "VotakvotLogger")
        }
        extra = min(fits["VotakvotLogger"]) - min(fits["no logger"])
        print(
            f"\nA fit of one step: {min(fits['no logger']) * 1e3:.1f} ms with no logger, "
            f"{extra * 1e3:+.1f} ms with VotakvotLogger (the trial's start and end)"
        )

        print("\n| `log_metrics` (3 metrics) | µs per call |")
        print("|---|---:|")
        for name in ("CSVLogger", "VotakvotLogger"):
            times = [log_metrics_us(LOGGERS[name], 20_000, folder) for _ in range(args.repeats)]
            print(f"| {name} | {min(times):.1f} |")


if __name__ == "__main__":
    main()
