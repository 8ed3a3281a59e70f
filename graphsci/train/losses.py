"""Training losses; NaN targets (missing labels) are masked out."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def cross_entropy(logits, y):
    return F.cross_entropy(logits, y.long())


def masked_bce(logits, y):
    """Binary cross-entropy with logits over the labelled cells only."""
    y = y.to(logits.dtype).view_as(logits)
    ok = ~torch.isnan(y)
    if not bool(ok.any()):
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[ok], y[ok])


def masked_mse(pred, y):
    y = y.to(pred.dtype).view_as(pred)
    ok = ~torch.isnan(y)
    if not bool(ok.any()):
        return pred.sum() * 0.0
    return F.mse_loss(pred[ok], y[ok])


LOSSES = {"cross_entropy": cross_entropy, "bce": masked_bce, "mse": masked_mse}
