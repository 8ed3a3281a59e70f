"""Dropout and linear maps that also take sparse feature matrices.

Dense dropout on CPU is native: each element's keep draw is a counter-based function of a seed
and its index, so the mask is made in the same pass that applies it and is never stored (the
backward pass regenerates it). torch's draws one Bernoulli at a time from a Mersenne twister into
a stored float mask, which made dropout a fifth of a molecular GCN's training time, as much as
the linear layers. The seed comes from torch's generator, so ``torch.manual_seed`` still fixes
the masks; the draws themselves differ from ``F.dropout``'s.

Bag-of-words and fingerprint features are mostly zeros (Cora: 1.3% non-zero). Dropout of a
sparse tensor touches only its stored values, which gives the same distribution as dense
dropout (zeros stay zero) at a fraction of the cost, and the linear map becomes a sparse-dense
product."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from graphsci import _native
from graphsci.ops import _raw


def is_sparse(x: torch.Tensor) -> bool:
    return x.layout != torch.strided


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Zeroes each element with probability ``p`` and scales the rest by 1 / (1 - p) while
    ``training``, as ``F.dropout``; for sparse COO tensors, dropout of the stored values."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if is_sparse(x):
        if x.layout != torch.sparse_coo:
            raise ValueError(f"sparse features must be in COO layout, got {x.layout}")
        x = x.coalesce()
        # Same indices as the valid input, so the invariant check would only cost time.
        return torch.sparse_coo_tensor(x.indices(), dropout(x.values(), p, True), x.shape,
                                       is_coalesced=True, check_invariants=False)
    if p == 1.0 or x.numel() == 0 or not _native.covers(x):
        return F.dropout(x, p, True)
    seed = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64))
    # Dropped where the 32-bit draw < threshold: P = threshold / 2^32, within 2^-32 of p.
    return _NativeDropout.apply(x, seed, min(round(p * 2**32), 2**32 - 1), 1.0 / (1.0 - p))


class _NativeDropout(torch.autograd.Function):
    """x * mask in one pass. Only the seed is kept for backward, which applies the same mask to
    the gradient (a linear map, so the backward is this function again and twice differentiable)."""

    @staticmethod
    def forward(ctx, x, seed, threshold, scale):
        ctx.mask = (seed, threshold, scale)
        return _raw.dropout(x, seed, threshold, scale)

    @staticmethod
    def backward(ctx, grad):
        return _NativeDropout.apply(grad, *ctx.mask), None, None, None


class Dropout(nn.Module):
    """``nn.Dropout`` on :func:`dropout`."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` for dense or sparse COO ``x``."""
    if not is_sparse(x):
        return F.linear(x, weight, bias)
    out = torch.sparse.mm(x, weight.t())
    return out if bias is None else out + bias
