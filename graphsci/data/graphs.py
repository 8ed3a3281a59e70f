"""Datasets of many small graphs and the collate that batches them for a DataLoader."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from graphsci.graph import Graph, batch


class GraphSample(NamedTuple):
    """One graph with its node features, optional edge features, a target and optional
    graph-level features (e.g. molecule descriptors).

    ``y`` is the graph's target (scalar or ``(tasks,)``), or ``(num_nodes, tasks)`` for
    node-level targets. Also the type of a collated batch: then ``graph`` is a batch, node and edge features are
    concatenated in member order and ``y`` and ``graph_feats`` are stacked."""

    graph: Graph
    x: torch.Tensor
    edge_feats: torch.Tensor | None
    y: torch.Tensor
    graph_feats: torch.Tensor | None = None


class GraphDataset(torch.utils.data.Dataset):
    """A list of :class:`GraphSample`, checked on entry so that a bad sample is reported by
    index before any training starts."""

    def __init__(self, samples: Sequence[GraphSample]):
        samples = list(samples)
        for i, s in enumerate(samples):
            if not isinstance(s.graph, Graph):
                raise ValueError(f"sample {i}: graph is {type(s.graph).__name__}, not a Graph")
            if s.x.shape[0] != s.graph.num_nodes:
                raise ValueError(f"sample {i}: x has {s.x.shape[0]} rows for {s.graph.num_nodes} nodes")
            if s.edge_feats is not None and s.edge_feats.shape[0] != s.graph.num_edges:
                raise ValueError(f"sample {i}: edge_feats has {s.edge_feats.shape[0]} rows for "
                                 f"{s.graph.num_edges} edges")
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> GraphSample:
        return self.samples[i]


def collate(samples: Sequence[GraphSample]) -> GraphSample:
    """Batches samples into one :class:`GraphSample` (use as a DataLoader's ``collate_fn``)."""
    samples = list(samples)
    if not samples:
        raise ValueError("collate() needs at least one sample")
    has_edges = [s.edge_feats is not None for s in samples]
    if any(has_edges) and not all(has_edges):
        raise ValueError("either every sample has edge features or none has")
    edge_feats = torch.cat([s.edge_feats for s in samples]) if all(has_edges) else None
    has_graph_feats = [s.graph_feats is not None for s in samples]
    if any(has_graph_feats) and not all(has_graph_feats):
        raise ValueError("either every sample has graph features or none has")
    ys = [torch.as_tensor(s.y) for s in samples]
    # 2-D targets with a row per node are node-level (e.g. per residue): they concatenate.
    per_node = all(y.dim() == 2 and y.shape[0] == s.graph.num_nodes for y, s in zip(ys, samples))
    return GraphSample(batch([s.graph for s in samples]), torch.cat([s.x for s in samples]),
                       edge_feats, torch.cat(ys) if per_node else torch.stack(ys),
                       torch.stack([s.graph_feats for s in samples]) if all(has_graph_feats) else None)
