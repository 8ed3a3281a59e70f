"""TU Dortmund graph-classification datasets (``DS_A.txt``, ``DS_graph_indicator.txt``, ...),
e.g. ENZYMES and PROTEINS in ``proteins/tu_graphs``."""
from __future__ import annotations

import numpy as np
import torch

from graphsci.data.graphs import GraphDataset, GraphSample
from graphsci.data.paths import data_root
from graphsci.graph import Graph


def load_tu(name: str, root=None) -> GraphDataset:
    """Graphs with continuous node attributes plus the one-hot node label as features, and the
    graph label (made 0-based) as target."""
    folder = data_root(root) / "proteins" / "tu_graphs" / name
    if not folder.is_dir():
        raise FileNotFoundError(f"missing TU dataset folder {folder}")
    read = lambda part, **kw: np.loadtxt(folder / f"{name}_{part}.txt", **kw)  # noqa: E731
    edges = read("A", delimiter=",", dtype=np.int64).reshape(-1, 2) - 1
    member = read("graph_indicator", dtype=np.int64) - 1
    labels = read("graph_labels", dtype=np.int64)
    labels = labels - labels.min()
    attrs = read("node_attributes", delimiter=",", dtype=np.float32).reshape(len(member), -1)
    node_label = read("node_labels", dtype=np.int64)
    onehot = np.eye(node_label.max() - node_label.min() + 1, dtype=np.float32)[node_label - node_label.min()]
    feats = torch.from_numpy(np.concatenate([attrs, onehot], axis=1))
    starts = np.concatenate([[0], np.cumsum(np.bincount(member))])
    edge_member = member[edges[:, 0]]
    order = np.argsort(edge_member, kind="stable")
    edges, edge_member = edges[order], edge_member[order]
    edge_starts = np.concatenate([[0], np.cumsum(np.bincount(edge_member, minlength=len(labels)))])
    samples = []
    for gid in range(len(labels)):
        lo, hi = starts[gid], starts[gid + 1]
        e = edges[edge_starts[gid]:edge_starts[gid + 1]] - lo
        samples.append(GraphSample(Graph(e[:, 0], e[:, 1], hi - lo), feats[lo:hi], None,
                                   torch.tensor(labels[gid])))
    return GraphDataset(samples)
