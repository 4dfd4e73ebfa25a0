"""votakvot-lightning: a PyTorch Lightning logger that records each Trainer run as a votakvot trial.

    import lightning.pytorch as L
    from votakvot_lightning import VotakvotLogger

    trainer = L.Trainer(max_epochs=3, logger=VotakvotLogger("mnist"))
    trainer.fit(model)

For `pytorch_lightning.Trainer`, use `votakvot_lightning.pytorch_lightning.VotakvotLogger`.
"""

from __future__ import annotations

from .logger import VotakvotLogger

__all__ = ["VotakvotLogger"]
