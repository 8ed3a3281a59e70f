"""Cora and CiteSeer in the original Planetoid files, with the standard public split (the 20
labelled nodes per class for training, the next 500 nodes for validation, the listed 1000 test
nodes), as in Kipf & Welling (2017) and Yang et al. (2016)."""
from __future__ import annotations

import io
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from graphsci.data.paths import data_root
from graphsci.graph import Graph

# The files are Python-2 pickles. Only these classes may be rebuilt from them, so a tampered
# file cannot run code on load.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
    ("scipy.sparse.csr", "csr_matrix"), ("collections", "defaultdict"), ("__builtin__", "list"),
}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        elif module == "scipy.sparse.csr":
            return sp.csr_matrix
        elif module == "__builtin__":
            module = "builtins"
        return super().find_class(module, name)


def _load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _DataUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()


@dataclass(frozen=True)
class NodeDataset:
    """One graph with node features, labels (-1 where unknown) and split masks."""

    name: str
    graph: Graph
    x: torch.Tensor
    y: torch.Tensor
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1

    @property
    def num_features(self) -> int:
        return self.x.shape[1]


def row_normalise(x: torch.Tensor) -> torch.Tensor:
    """Non-negative feature rows (bags of words) scaled to sum 1, the GCN and SGC papers'
    preprocessing of citation features; all-zero rows (CiteSeer's featureless nodes) stay zero.
    A dense 2-D tensor; negative or non-finite values raise ValueError (no sum makes them weights)."""
    if not isinstance(x, torch.Tensor) or x.is_sparse or x.ndim != 2:
        raise ValueError("row_normalise takes a dense (nodes, features) tensor")
    if not bool(torch.isfinite(x).all()) or bool((x < 0).any()):
        raise ValueError("row_normalise needs finite, non-negative features")
    sums = x.sum(1, keepdim=True)
    return x / torch.where(sums > 0, sums, torch.ones_like(sums))


def load_planetoid(name: str, root=None) -> NodeDataset:
    """Loads ``cora`` or ``citeseer`` from ``<root>/graphs/planetoid``.

    The graph is made undirected (both directions of every citation), without duplicate edges or
    self-loops. CiteSeer's 15 test-range ids with no features become zero rows with label -1.
    """
    name = name.lower()
    if name not in ("cora", "citeseer"):
        raise ValueError(f"unknown Planetoid dataset {name!r}; expected 'cora' or 'citeseer'")
    folder = data_root(root) / "graphs" / "planetoid"
    parts = {}
    for key in ("x", "y", "tx", "ty", "allx", "ally", "graph"):
        path = folder / f"ind.{name}.{key}"
        if not path.is_file():
            raise FileNotFoundError(f"missing Planetoid file {path}")
        parts[key] = _load(path)
    test_order = np.loadtxt(folder / f"ind.{name}.test.index", dtype=np.int64)
    test_sorted = np.sort(test_order)
    tx, ty = parts["tx"], np.asarray(parts["ty"])
    lo, hi = test_sorted[0], test_sorted[-1]
    # Test ids with no file rows (CiteSeer) are padded so row i is node i.
    tx_full = sp.lil_matrix((hi - lo + 1, tx.shape[1]))
    tx_full[test_sorted - lo, :] = tx
    ty_full = np.zeros((hi - lo + 1, ty.shape[1]))
    ty_full[test_sorted - lo, :] = ty
    features = sp.vstack([parts["allx"], tx_full]).tolil()
    features[test_order, :] = features[test_sorted, :]
    onehot = np.vstack([np.asarray(parts["ally"]), ty_full])
    onehot[test_order, :] = onehot[test_sorted, :]
    labels = np.where(onehot.sum(1) > 0, onehot.argmax(1), -1)
    n = features.shape[0]

    adjacency = parts["graph"]
    pairs = np.array([(u, v) for u, vs in adjacency.items() for v in vs], dtype=np.int64).reshape(-1, 2)
    pairs = pairs[(pairs[:, 0] != pairs[:, 1]) & (pairs < n).all(1)]
    both = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)
    graph = Graph(both[:, 0], both[:, 1], n)

    def mask(idx):
        m = torch.zeros(n, dtype=torch.bool)
        m[torch.as_tensor(np.asarray(idx), dtype=torch.long)] = True
        return m

    n_train = np.asarray(parts["y"]).shape[0]
    return NodeDataset(
        name=name, graph=graph,
        x=torch.from_numpy(features.toarray().astype(np.float32)),
        y=torch.from_numpy(labels.astype(np.int64)),
        train_mask=mask(np.arange(n_train)),
        val_mask=mask(np.arange(n_train, n_train + 500)),
        test_mask=mask(test_sorted),
    )
