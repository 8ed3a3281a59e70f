"""The Graph value: one small immutable object serves a single graph and a batch of graphs.

A graph is ``src``/``dst`` (int64 tensors, edge order preserved) and ``num_nodes``; a batch adds
``batch_num_nodes``/``batch_num_edges``. Node and edge features travel beside it as tensors.
The compressed views that kernels walk (CSR by destination, CSC by source) are built once by the
native core, on first use, and cached.
"""
from __future__ import annotations

from functools import cached_property
from typing import NamedTuple, Sequence

import numpy as np
import torch

from graphsci import _native

_INT32_MAX = 2**31 - 1


class CompressedRows(NamedTuple):
    """Edges grouped by one endpoint: the edges of row ``i`` sit in slots
    ``indptr[i]:indptr[i+1]``, with ``indices`` the other endpoint and ``eids`` the edge's
    position in the graph's edge order."""

    indptr: torch.Tensor
    indices: torch.Tensor
    eids: torch.Tensor


def _index_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value
    else:
        arr = np.asarray(value)
        if arr.dtype == object:
            raise ValueError(f"{name} must be an integer array, got objects")
        if arr.size == 0:
            arr = arr.astype(np.int64)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must hold integer node ids, got dtype {t.dtype}")
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {tuple(t.shape)}")
    return t.to(torch.int64).contiguous()


def _count_tensor(value, name: str) -> torch.Tensor:
    t = _index_tensor(value, name)
    if t.numel() and int(t.min()) < 0:
        raise ValueError(f"{name} must be non-negative")
    return t


class Graph:
    """An immutable directed multigraph, or a batch of them.

    Parameters
    ----------
    src, dst:
        Source and destination node ids of each edge (any integer array-like). Edge ``i`` is
        ``src[i] -> dst[i]``; this order is kept, so edge features never need re-sorting.
    num_nodes:
        Number of nodes; isolated nodes are allowed. Defaults to ``max(src, dst) + 1``.
    batch_num_nodes, batch_num_edges:
        For a batch: nodes and edges of each member. Members' nodes and edges are contiguous and
        in member order, and every edge must stay within its member.
    """

    __slots__ = ("src", "dst", "num_nodes", "batch_num_nodes", "batch_num_edges", "__dict__")

    def __init__(self, src, dst, num_nodes: int | None = None, *, batch_num_nodes=None,
                 batch_num_edges=None):
        src = _index_tensor(src, "src")
        dst = _index_tensor(dst, "dst")
        if src.shape != dst.shape:
            raise ValueError(f"src and dst must have the same length, got {src.numel()} and {dst.numel()}")
        if src.device != dst.device:
            raise ValueError("src and dst must be on the same device")
        hi = int(torch.maximum(src.max(), dst.max())) if src.numel() else -1
        if num_nodes is None:
            num_nodes = hi + 1
        if isinstance(num_nodes, bool) or not isinstance(num_nodes, (int, np.integer)):
            raise ValueError(f"num_nodes must be an int, got {type(num_nodes).__name__}")
        num_nodes = int(num_nodes)
        if num_nodes < 0:
            raise ValueError(f"num_nodes must be non-negative, got {num_nodes}")
        if src.numel():
            lo = int(torch.minimum(src.min(), dst.min()))
            if lo < 0:
                bad = "src" if int(src.min()) < 0 else "dst"
                raise ValueError(f"{bad} holds a negative node id ({lo})")
            if hi >= num_nodes:
                bad = "src" if int(src.max()) == hi else "dst"
                raise ValueError(f"{bad} holds node id {hi}, out of range for num_nodes={num_nodes}")
        if (batch_num_nodes is None) != (batch_num_edges is None):
            raise ValueError("give both batch_num_nodes and batch_num_edges, or neither")
        if batch_num_nodes is None:
            bnn = torch.tensor([num_nodes], dtype=torch.int64)
            bne = torch.tensor([src.numel()], dtype=torch.int64)
        else:
            bnn = _count_tensor(batch_num_nodes, "batch_num_nodes").cpu()
            bne = _count_tensor(batch_num_edges, "batch_num_edges").cpu()
            if bnn.numel() != bne.numel():
                raise ValueError("batch_num_nodes and batch_num_edges must have the same length")
            if int(bnn.sum()) != num_nodes:
                raise ValueError(f"batch_num_nodes sums to {int(bnn.sum())}, not num_nodes={num_nodes}")
            if int(bne.sum()) != src.numel():
                raise ValueError(f"batch_num_edges sums to {int(bne.sum())}, not the {src.numel()} edges")
            if src.numel():
                node_member = torch.repeat_interleave(torch.arange(bnn.numel()), bnn).to(src.device)
                edge_member = torch.repeat_interleave(torch.arange(bne.numel()), bne).to(src.device)
                if not (bool((node_member[src] == edge_member).all()) and bool((node_member[dst] == edge_member).all())):
                    raise ValueError("an edge joins nodes outside its batch member")
        self._set(src, dst, num_nodes, bnn, bne)

    def _set(self, src, dst, num_nodes, bnn, bne):
        object.__setattr__(self, "src", src)
        object.__setattr__(self, "dst", dst)
        object.__setattr__(self, "num_nodes", num_nodes)
        object.__setattr__(self, "batch_num_nodes", bnn)
        object.__setattr__(self, "batch_num_edges", bne)

    @classmethod
    def _trusted(cls, src, dst, num_nodes, bnn, bne, cache=None) -> "Graph":
        """Builds a graph from parts already known to be valid (skips the O(E) checks)."""
        g = cls.__new__(cls)
        g._set(src, dst, num_nodes, bnn, bne)
        if cache:
            g.__dict__.update(cache)
        return g

    def __setattr__(self, name, value):
        raise AttributeError("Graph is immutable; methods return new graphs")

    def __reduce__(self):
        # Pickles (e.g. to DataLoader workers) without the caches, which are rebuilt on use.
        return (Graph._trusted, (self.src, self.dst, self.num_nodes, self.batch_num_nodes,
                                 self.batch_num_edges))

    def memo(self, key: str, compute):
        """``compute()`` once per graph and key, then cached on the graph. Safe because a graph
        never changes: layers use it for values derived from structure alone (normalisation
        weights, the self-looped graph)."""
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def num_edges(self) -> int:
        return self.src.numel()

    @property
    def batch_size(self) -> int:
        return self.batch_num_nodes.numel()

    @property
    def device(self) -> torch.device:
        return self.src.device

    def __repr__(self) -> str:
        batch = f", batch_size={self.batch_size}" if self.batch_size != 1 else ""
        return f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}{batch})"

    # ---- compressed views (cached) -------------------------------------------------------------
    @cached_property
    def index_dtype(self) -> torch.dtype:
        """int32 halves index traffic in the kernels; int64 only when ids would overflow."""
        small = self.num_edges <= _INT32_MAX and self.num_nodes <= _INT32_MAX
        return torch.int32 if small else torch.int64

    def _compress(self, row: torch.Tensor, col: torch.Tensor) -> CompressedRows:
        n = self.num_nodes
        if row.device.type == "cpu" and _native.available():
            from graphsci.ops import _raw

            return _raw.coo_to_csr(row, col, n, self.index_dtype)
        order = torch.sort(row, stable=True).indices
        counts = torch.bincount(row, minlength=n)
        indptr = torch.zeros(n + 1, dtype=torch.int64, device=row.device)
        indptr[1:] = torch.cumsum(counts, 0)
        return CompressedRows(indptr, col[order], order)

    @cached_property
    def index_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(src, dst)`` in :attr:`index_dtype`, for the edge-parallel kernels."""
        return self.src.to(self.index_dtype), self.dst.to(self.index_dtype)

    @cached_property
    def csr(self) -> CompressedRows:
        """Edges grouped by destination (``indices`` are sources): what aggregation walks."""
        return self._compress(self.dst, self.src)

    @cached_property
    def csc(self) -> CompressedRows:
        """Edges grouped by source (``indices`` are destinations): the reverse graph's CSR."""
        return self._compress(self.src, self.dst)

    def _degree(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.device.type == "cpu" and _native.available():
            from graphsci.ops import _raw

            return _raw.degree(idx, self.num_nodes)
        return torch.bincount(idx, minlength=self.num_nodes)

    @cached_property
    def _in_degrees(self) -> torch.Tensor:
        return self._degree(self.dst)

    @cached_property
    def _out_degrees(self) -> torch.Tensor:
        return self._degree(self.src)

    def in_degrees(self) -> torch.Tensor:
        """Number of incoming edges of each node (int64, shape ``(num_nodes,)``)."""
        return self._in_degrees

    def out_degrees(self) -> torch.Tensor:
        """Number of outgoing edges of each node (int64, shape ``(num_nodes,)``)."""
        return self._out_degrees

    # ---- batches -------------------------------------------------------------------------------
    @cached_property
    def node_offsets(self) -> torch.Tensor:
        """Start of each member's nodes, plus the total: shape ``(batch_size + 1,)``."""
        return torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(self.batch_num_nodes, 0)])

    @cached_property
    def edge_offsets(self) -> torch.Tensor:
        return torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(self.batch_num_edges, 0)])

    @cached_property
    def node_batch(self) -> torch.Tensor:
        """Member index of every node (for pooling with index-based tools)."""
        ids = torch.repeat_interleave(torch.arange(self.batch_size), self.batch_num_nodes)
        return ids.to(self.device)

    @cached_property
    def edge_batch(self) -> torch.Tensor:
        ids = torch.repeat_interleave(torch.arange(self.batch_size), self.batch_num_edges)
        return ids.to(self.device)

    def unbatch(self) -> list["Graph"]:
        """Splits a batch into its members (a single graph gives ``[self]``)."""
        out = []
        no, eo = self.node_offsets.tolist(), self.edge_offsets.tolist()
        for b in range(self.batch_size):
            src = self.src[eo[b]:eo[b + 1]] - no[b]
            dst = self.dst[eo[b]:eo[b + 1]] - no[b]
            n = no[b + 1] - no[b]
            out.append(Graph._trusted(src, dst, n, torch.tensor([n]), torch.tensor([src.numel()])))
        return out

    # ---- transforms ----------------------------------------------------------------------------
    def to(self, device) -> "Graph":
        device = torch.device(device)
        if device == self.device:
            return self
        return Graph._trusted(self.src.to(device), self.dst.to(device), self.num_nodes,
                              self.batch_num_nodes, self.batch_num_edges)

    def reverse(self) -> "Graph":
        """Every edge flipped, in the same order; the compressed views swap roles."""
        cache = {}
        if "csr" in self.__dict__:
            cache["csc"] = self.__dict__["csr"]
        if "csc" in self.__dict__:
            cache["csr"] = self.__dict__["csc"]
        return Graph._trusted(self.dst, self.src, self.num_nodes, self.batch_num_nodes,
                              self.batch_num_edges, cache)

    def remove_self_loops(self) -> "Graph":
        keep = self.src != self.dst
        bne = torch.bincount(self.edge_batch[keep].cpu(), minlength=self.batch_size)
        return Graph._trusted(self.src[keep], self.dst[keep], self.num_nodes,
                              self.batch_num_nodes, bne)

    @cached_property
    def _self_loop_order(self) -> torch.Tensor:
        member = torch.cat([self.edge_batch, self.node_batch])
        return torch.sort(member, stable=True).indices

    def add_self_loops(self, edge_feats: torch.Tensor | None = None, fill_value: float = 1.0):
        """One new edge ``i -> i`` per node. Each member's loops follow its own edges (for a
        single graph: the last ``num_nodes`` edges), so the batch stays contiguous.

        With ``edge_feats`` (rows in edge order) returns ``(graph, feats)`` where the loops'
        rows are ``fill_value``."""
        loops = torch.arange(self.num_nodes, device=self.device)
        order = self._self_loop_order
        g = Graph._trusted(torch.cat([self.src, loops])[order], torch.cat([self.dst, loops])[order],
                           self.num_nodes, self.batch_num_nodes,
                           self.batch_num_edges + self.batch_num_nodes)
        if edge_feats is None:
            return g
        if edge_feats.shape[0] != self.num_edges:
            raise ValueError(f"edge_feats has {edge_feats.shape[0]} rows but the graph has {self.num_edges} edges")
        fill = edge_feats.new_full((self.num_nodes,) + tuple(edge_feats.shape[1:]), fill_value)
        return g, torch.cat([edge_feats, fill])[order.to(edge_feats.device)]

    # ---- interchange ---------------------------------------------------------------------------
    def to_scipy(self, weights: torch.Tensor | None = None, fmt: str = "csr"):
        """Adjacency matrix ``A[src, dst]`` (duplicate edges add up) as a scipy sparse matrix."""
        import scipy.sparse as sp

        w = np.ones(self.num_edges) if weights is None else weights.detach().cpu().numpy()
        a = sp.coo_matrix((w, (self.src.cpu().numpy(), self.dst.cpu().numpy())),
                          shape=(self.num_nodes, self.num_nodes))
        return a.asformat(fmt)

    @classmethod
    def from_scipy(cls, matrix, return_weights: bool = False):
        """A graph with an edge ``i -> j`` per stored entry ``A[i, j]``; with
        ``return_weights`` also the entries as a float tensor in edge order."""
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise ValueError("matrix must be a scipy sparse matrix")
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix must be square, got shape {matrix.shape}")
        coo = matrix.tocoo()
        g = cls(coo.row.astype(np.int64), coo.col.astype(np.int64), matrix.shape[0])
        if return_weights:
            return g, torch.from_numpy(np.asarray(coo.data, dtype=np.float64)).float()
        return g

    def to_networkx(self):
        """A ``networkx.MultiDiGraph`` with every node and each edge's position as ``id``."""
        import networkx as nx

        g = nx.MultiDiGraph()
        g.add_nodes_from(range(self.num_nodes))
        for i, (u, v) in enumerate(zip(self.src.tolist(), self.dst.tolist())):
            g.add_edge(u, v, id=i)
        return g

    @classmethod
    def from_networkx(cls, graph) -> "Graph":
        """Nodes are numbered in ``graph.nodes`` order; an undirected edge becomes two edges."""
        index = {n: i for i, n in enumerate(graph.nodes)}
        pairs = [(index[u], index[v]) for u, v in graph.edges()]
        if not graph.is_directed():
            pairs += [(v, u) for u, v in pairs if u != v]
        src = [p[0] for p in pairs]
        dst = [p[1] for p in pairs]
        return cls(np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), len(index))


def batch(graphs: Sequence[Graph]) -> Graph:
    """Concatenates graphs into one batch (node ids offset, members kept). Batches in the input
    contribute their members, so batching is associative."""
    graphs = list(graphs)
    if not graphs:
        raise ValueError("batch() needs at least one graph")
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            raise ValueError(f"graphs[{i}] is a {type(g).__name__}, not a Graph")
    device = graphs[0].device
    if any(g.device != device for g in graphs):
        raise ValueError("all graphs must be on the same device")
    sizes = torch.tensor([g.num_nodes for g in graphs], dtype=torch.int64, device=device)
    n_edges = torch.tensor([g.num_edges for g in graphs], dtype=torch.int64, device=device)
    # One vectorised offset add, not one small add per member (batches hold thousands).
    shift = torch.repeat_interleave(torch.cumsum(sizes, 0) - sizes, n_edges)
    src = torch.cat([g.src for g in graphs]) + shift
    dst = torch.cat([g.dst for g in graphs]) + shift
    bnn = torch.cat([g.batch_num_nodes for g in graphs])
    bne = torch.cat([g.batch_num_edges for g in graphs])
    return Graph._trusted(src, dst, int(sizes.sum()), bnn, bne)
