"""Training losses; NaN targets (missing labels) are masked out."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def cross_entropy(logits, y):
    return F.cross_entropy(logits, y.long())


def _masked(loss_fn, pred, y):
    """``loss_fn`` over the labelled (non-NaN) cells; 0 with a gradient path when none are."""
    y = y.to(pred.dtype).view_as(pred)
    ok = ~torch.isnan(y)
    if not bool(ok.any()):
        return pred.sum() * 0.0
    return loss_fn(pred[ok], y[ok])


def masked_bce(logits, y, pos_weight=None):
    """Binary cross-entropy with logits over the labelled cells only; ``pos_weight`` (one per
    task) scales the positive term, e.g. negatives / positives to balance rare positives."""
    if pos_weight is None:
        return _masked(F.binary_cross_entropy_with_logits, logits, y)
    y = y.to(logits.dtype).view_as(logits)
    ok = ~torch.isnan(y)
    if not bool(ok.any()):
        return logits.sum() * 0.0
    weight = torch.as_tensor(pos_weight, dtype=logits.dtype).expand_as(logits)[ok]
    return F.binary_cross_entropy_with_logits(logits[ok], y[ok], pos_weight=weight)


def masked_mse(pred, y):
    """Mean squared error over the labelled cells only."""
    return _masked(F.mse_loss, pred, y)


LOSSES = {"cross_entropy": cross_entropy, "bce": masked_bce, "mse": masked_mse}
