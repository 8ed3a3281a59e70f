"""Graph smoothing as a few steps of gradient descent on a graph-regularised energy (the
propagation of Chen et al., ICLR 2022, "Convergent Boosted Smoothing"; APPNP's, for one choice
of step size), on the native SpMM."""
from __future__ import annotations

import numpy as np
import torch

from graphsci import _native, ops
from graphsci.ops import _raw
from graphsci.graph import Graph


def _check(g: Graph, values, name):
    if not isinstance(g, Graph):
        raise ValueError(f"g must be a graphsci.Graph, got {type(g).__name__}")
    if values.shape[0] != g.num_nodes:
        raise ValueError(f"{name} has {values.shape[0]} rows for a graph of {g.num_nodes} nodes")
    if values.ndim not in (1, 2):
        raise ValueError(f"{name} must be (nodes,) or (nodes, features), got shape {tuple(values.shape)}")


def _normalisation(g: Graph, dtype=torch.float64):
    """The self-looped graph and ``D^-1/2`` of its in-degrees (memoised per graph and dtype)."""
    h = g.memo("self_loops", g.add_self_loops)
    scale = g.memo(f"propagation_scale:{dtype}", lambda: h.in_degrees().to(torch.float64).pow(-0.5).to(dtype))
    return h, scale


def _propagate_reference(g: Graph, y, x, a: float, b: float, steps: int, transpose: bool):
    """The same recursion through the differentiable SpMM with stored edge weights: the
    twin of the native kernel, and the path for tensors it does not cover."""
    h, scale = _normalisation(g)
    # symmetric-normalised edge weights, in float64 (gradients flow through them)
    w = g.memo("propagation_weights", lambda: scale[h.src] * scale[h.dst]).to(y.dtype)
    if transpose:
        # A^T: the same weights on reversed edges (reverse() keeps the edge order).
        h = h.memo("reversed", h.reverse)
    z = y
    for _ in range(steps):
        z = a * x + b * ops.spmm(h, z, w, op="u_mul_e", reduce="sum")
    return z


def propagate(g: Graph, Y, lam: float = 1.0, steps: int = 10, X=None, transpose: bool = False):
    """``steps`` gradient steps, from ``Y``, on

        E(Z) = 1/2 ||Z - X||^2 + lam/2 tr(Z^T (I - A) Z),   A = D^-1/2 (adjacency + I) D^-1/2,

    with step size ``1 / (1 + lam)``, i.e. ``Z <- (X + lam A Z) / (1 + lam)``; ``X`` defaults to
    ``Y``. As a map of ``X`` (with ``Y = X``) this is a linear operator ``P``; ``transpose=True``
    applies ``P^T`` (the same recursion over the reversed graph), which is what gradients
    through ``P`` need. ``Y``/``X`` are ``(nodes,)`` or ``(nodes, d)`` tensors or arrays; the
    result has the same type. ``steps=0`` returns ``Y``.
    """
    if lam < 0 or steps < 0:
        raise ValueError("lam and steps must be non-negative")
    as_numpy = isinstance(Y, np.ndarray)
    y = torch.from_numpy(np.ascontiguousarray(Y)) if as_numpy else Y
    x = y if X is None else (torch.from_numpy(np.ascontiguousarray(X)) if isinstance(X, np.ndarray) else X)
    _check(g, y, "Y")
    _check(g, x, "X")
    if x.shape != y.shape:
        raise ValueError(f"X has shape {tuple(x.shape)} and Y {tuple(y.shape)}")
    if not (torch.isfinite(y).all() and torch.isfinite(x).all()):
        raise ValueError("Y and X must be finite (no NaN or inf)")
    z = apply(g, y, x, lam, steps, transpose)
    return z.numpy() if as_numpy else z


def apply(g: Graph, y: torch.Tensor, x: torch.Tensor, lam: float, steps: int, transpose: bool = False):
    """:func:`propagate` on tensors already checked (finite, shapes matching the graph): the
    inner loop of boosting, which calls it twice per tree on values it computed itself."""
    vector = y.ndim == 1
    y, x = (y[:, None], x[:, None]) if vector else (y, x)
    a, b = 1.0 / (1.0 + lam), lam / (1.0 + lam)
    differentiable = torch.is_grad_enabled() and (y.requires_grad or x.requires_grad)
    if (_native.enabled() and not differentiable and y.device.type == "cpu" and x.dtype == y.dtype
            and y.dtype in _native.NATIVE_DTYPES):
        # All steps in one native call, the normalisation applied per node rather than stored
        # per edge. The transpose walks the same self-looped graph by source.
        h, scale = _normalisation(g, y.dtype)
        z = _raw.propagate(h.csc if transpose else h.csr, scale, x.contiguous(), y.contiguous(), steps, a, b)
    else:
        z = _propagate_reference(g, y, x, a, b, steps, transpose)
    return z[:, 0] if vector else z
