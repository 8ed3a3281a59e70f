"""Metrics that accept missing labels: NaN targets (multi-task data) are left out, per task."""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def accuracy(logits, y) -> float:
    """Share of rows whose arg-max class equals the integer label."""
    logits, y = _np(logits), _np(y)
    return float((logits.argmax(-1) == y).mean()) if y.size else float("nan")


def rmse(pred, y) -> float:
    """Root mean squared error over the labelled cells, averaged over tasks."""
    return _per_task(pred, y, lambda p, t: float(np.sqrt(np.mean((p - t) ** 2))))


def mae(pred, y) -> float:
    return _per_task(pred, y, lambda p, t: float(np.mean(np.abs(p - t))))


def roc_auc(scores, y) -> float:
    """ROC-AUC per task (Mann-Whitney rank statistic, ties averaged), averaged over the tasks
    that have both classes among their labelled rows."""
    def auc(s, t):
        pos = t > 0.5
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        from scipy.stats import rankdata    # scipy.stats costs ~1 s to import: only when scoring

        ranks = rankdata(s)
        return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return _per_task(scores, y, auc)


NO_LABELS = "no labelled rows to score: the metrics are undefined (NaN)"


def reported_roc_auc(scores, y) -> float:
    """:func:`roc_auc` for a report: a NaN comes with a warning that says why (per-epoch
    validation calls the quiet one)."""
    score = roc_auc(scores, y)
    if math.isnan(score):
        warnings.warn("ROC-AUC is undefined (NaN): no target has both classes among the labelled rows",
                      stacklevel=3)
    return score


def _per_task(pred, y, fn) -> float:
    pred, y = _np(pred).astype(np.float64), _np(y).astype(np.float64)
    if pred.ndim == 1:
        pred, y = pred[:, None], y[:, None]
    values = []
    for j in range(y.shape[1]):
        ok = ~np.isnan(y[:, j])
        if ok.any():
            values.append(fn(pred[ok, j], y[ok, j]))
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


METRICS = {"accuracy": (accuracy, "max"), "roc_auc": (roc_auc, "max"),
           "rmse": (rmse, "min"), "mae": (mae, "min")}
