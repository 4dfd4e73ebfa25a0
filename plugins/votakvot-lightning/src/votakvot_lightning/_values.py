"""What Lightning hands a logger, in the forms a votakvot trial stores well: hyperparameters as
plain values, and metric rows that cannot clash with votakvot's own `step` and `time` columns."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Mapping
from typing import Any

import torch

# votakvot reads these two keys of a metered row as the row's step and time, not as metrics.
_RESERVED = ("step", "time")


def params_from(hparams: Mapping[str, Any] | argparse.Namespace) -> dict[str, Any]:
    """Returns Lightning's hyperparameters (a dict, `AttributeDict` or `Namespace`) as plain params."""
    if isinstance(hparams, argparse.Namespace):
        hparams = vars(hparams)
    if not isinstance(hparams, Mapping):
        raise TypeError(
            f"log_hyperparams() takes a dict or an argparse.Namespace of hyperparameters, got {hparams!r} "
            f"({type(hparams).__name__}); pass e.g. {{'lr': 0.01}}"
        )
    return {str(key): plain(value) for key, value in hparams.items()}


def plain(value: Any) -> Any:
    """Returns `value` in a form that is short and readable in `votakvot.yaml`.

    Tensors become numbers or lists; a module, a class or a function (what `save_hyperparameters()`
    picks up from `__init__` arguments) becomes its dotted name, since the weights belong in the
    checkpoint and a pickled module in YAML is neither readable nor small. Anything else is left
    to votakvot, which stores numpy, enums, paths and dataclasses plainly.
    """
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, torch.nn.Module):
        return _dotted(type(value))
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        return _dotted(value)
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if type(value) in (list, tuple):  # not namedtuples: votakvot stores those as {field: value}
        return type(value)(plain(v) for v in value)
    return value


def _dotted(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def metric_row(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Returns `metrics` as a row for `LiveTrial.meter`: scalar tensors as numbers, and a metric
    named `step` or `time` as `_step` / `_time` (votakvot keeps those names for the row's own)."""
    row: dict[str, Any] = {}
    for key, value in metrics.items():
        name = str(key)
        if name in _RESERVED:
            name = "_" + name
        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 else value.tolist()
        row[name] = value
    return row
