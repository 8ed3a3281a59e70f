"""Training: a Trainer with early stopping, metrics and losses that handle missing labels, and
data-parallel training under torchrun."""
from graphsci.train.metrics import accuracy, mae, rmse, roc_auc
from graphsci.train.trainer import Trainer, TrainingDiverged, seed_everything

__all__ = ["Trainer", "TrainingDiverged", "seed_everything", "accuracy", "roc_auc", "rmse", "mae"]
