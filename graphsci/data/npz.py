"""Graphs stored as scipy-sparse parts in an ``.npz`` file (the layout of Cora-ML in
``graphs/npz``, from Bojchevski & Guennemann 2018 / Klicpera et al. 2019)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from graphsci.data.paths import data_root
from graphsci.data.planetoid import NodeDataset
from graphsci.graph import Graph


def _csr(f, prefix):
    return sp.csr_matrix((f[f"{prefix}.data"], f[f"{prefix}.indices"], f[f"{prefix}.indptr"]),
                         shape=tuple(f[f"{prefix}.shape"]))


def load_npz_graph(name: str = "cora_ml", root=None, seed: int = 0,
                   train_per_class: int = 20, num_val: int = 500) -> NodeDataset:
    """Loads ``<root>/graphs/npz/<name>.npz``: the adjacency made symmetric (no duplicates, no
    self-loops), binary bag-of-words features, labels, and a Planetoid-style split drawn with
    ``seed``: ``train_per_class`` labelled nodes per class, ``num_val`` validation nodes, the rest
    for testing."""
    path = data_root(root) / "graphs" / "npz" / f"{name}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"missing graph file {path}")
    with np.load(path, allow_pickle=True) as f:  # object arrays hold names only
        adj = _csr(f, "adj_matrix")
        x = _csr(f, "attr_matrix")
        labels = np.asarray(f["labels"], dtype=np.int64)
    adj = ((adj + adj.T) > 0).astype(np.float32).tocoo()
    keep = adj.row != adj.col
    n = adj.shape[0]
    graph = Graph(adj.row[keep].astype(np.int64), adj.col[keep].astype(np.int64), n)

    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:train_per_class]
                            for c in range(labels.max() + 1)])
    rest = rng.permutation(np.setdiff1d(np.arange(n), train))
    masks = []
    for idx in (train, rest[:num_val], rest[num_val:]):
        m = torch.zeros(n, dtype=torch.bool)
        m[torch.from_numpy(idx)] = True
        masks.append(m)
    return NodeDataset(name=name, graph=graph, x=torch.from_numpy(x.toarray().astype(np.float32)),
                       y=torch.from_numpy(labels), train_mask=masks[0], val_mask=masks[1],
                       test_mask=masks[2])
