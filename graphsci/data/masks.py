"""Node subsets given as boolean masks or as node indices, read one way everywhere."""
from __future__ import annotations

import numpy as np


def node_mask(mask, n: int, name: str) -> np.ndarray:
    """A boolean mask over ``n`` nodes from a boolean mask (array, tensor, Series) or node
    indices; a ValueError names ``name`` for anything else. An integer or float array of only
    0 and 1, one per node, is refused: read as indices it would select nodes 0 and 1 alone."""
    m = np.asarray(mask.cpu() if hasattr(mask, "cpu") else mask)
    if m.dtype == bool:
        if m.shape != (n,):
            raise ValueError(f"{name} has {m.shape[0] if m.ndim else 0} entries for {n} nodes")
        return m
    if m.dtype.kind not in "iuf" or (m.dtype.kind == "f" and not np.array_equal(m, np.round(m))):
        raise ValueError(f"{name} must be a boolean mask or integer node indices, got {m.dtype} values")
    if m.shape == (n,) and n > 2 and np.isin(m, (0, 1)).all():
        raise ValueError(f"{name} holds only 0 and 1 for {n} nodes: a 0/1 mask? Pass it as "
                         f"booleans (mask.astype(bool)), or node indices")
    idx = m.astype(np.int64).ravel()
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{name} holds node indices outside [0, {n})")
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out
