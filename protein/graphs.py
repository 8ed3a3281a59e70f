"""Residue graphs: neighbour search, local frames and geometric edge features on the native
core (csrc/geometry.h), with contact / distance maps in and out as numpy arrays."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from graphsci.graph import Graph
from graphsci.protein.features import FeatureLayout, node_features
from graphsci.protein.reference import assemble_edge_features
from graphsci.protein.structure import Structure

NODE_ATOMS = ("CA", "CB", "virtual_CB")


class ProteinGraph(NamedTuple):
    """A residue graph: ``graph`` (edges neighbour -> residue), ``node_feats`` and
    ``edge_feats`` (see :class:`~graphsci.protein.features.FeatureLayout`), ``pos`` (the node
    coordinates) and the source ``structure``."""

    graph: Graph
    node_feats: torch.Tensor
    edge_feats: torch.Tensor
    pos: np.ndarray
    structure: Structure


def virtual_cb(backbone: np.ndarray) -> np.ndarray:
    """Ideal Cbeta from N, CA, C (the ProteinMPNN / trRosetta constants); CA where N or C is
    missing."""
    n, ca, c = backbone[:, 0], backbone[:, 1], backbone[:, 2]
    b, cc = ca - n, c - ca
    a = np.cross(b, cc)
    cb = -0.58273431 * a + 0.56802827 * b - 0.54067466 * cc + ca
    return np.where(np.isfinite(cb).all(1, keepdims=True), cb, ca)


def node_positions(structure: Structure, node: str = "CA") -> np.ndarray:
    """Coordinates of each residue's node: CA, CB (CA for glycine / missing CB) or a virtual CB."""
    if node == "CA":
        return np.ascontiguousarray(structure.ca)
    if node == "CB":
        return np.ascontiguousarray(np.where(np.isfinite(structure.cb).all(1, keepdims=True),
                                             structure.cb, structure.ca))
    if node == "virtual_CB":
        return np.ascontiguousarray(virtual_cb(structure.backbone))
    raise ValueError(f"node must be one of {', '.join(NODE_ATOMS)}, got {node!r}")


def _native():
    from graphsci import _native
    if not _native.available():
        raise RuntimeError(f"residue graphs need the compiled core: {_native.IMPORT_ERROR}")
    return _native._C


def residue_graph(structure: Structure, node: str = "CA", cutoff: float | None = 10.0,
                  k: int | None = None, sequence_edges: bool = True, min_seq_sep: int = 0,
                  ca_only: bool = False, embeddings=None,
                  layout: FeatureLayout | None = None) -> ProteinGraph:
    """The residue graph of a structure.

    Each residue links to every residue within ``cutoff`` A of its node (CA, CB or virtual CB),
    or to its ``k`` nearest (within ``cutoff`` when both are given); ``sequence_edges`` always
    links sequence neighbours in a chain; same-chain pairs fewer than ``min_seq_sep`` residues
    apart are otherwise left out. ``ca_only`` builds local frames from the Calpha trace even
    where N and C are present (for data that has only Calpha). ``embeddings``: optional
    ``(n, d)`` per-residue vectors (e.g. from a protein language model) appended to the node
    features.
    """
    layout = layout or FeatureLayout(embedding_dim=0 if embeddings is None else np.shape(embeddings)[1])
    if embeddings is not None and np.shape(embeddings)[1] != layout.embedding_dim:
        raise ValueError(f"embeddings have {np.shape(embeddings)[1]} columns; the layout expects "
                         f"{layout.embedding_dim}")
    if cutoff is None and not k:
        raise ValueError("give a cutoff, k, or both")
    if k is not None and k < 1:
        raise ValueError("k must be at least 1")
    if cutoff is not None and not cutoff > 0:
        raise ValueError("cutoff must be positive")
    C = _native()
    pos = node_positions(structure, node)
    chain = structure.chain_index
    src, dst = C.neighbour_edges(pos, chain, float("inf") if cutoff is None else float(cutoff),
                                 int(k or 0), int(min_seq_sep), bool(sequence_edges))
    n = len(structure)
    frames = np.empty((n, 3, 3))
    angles = np.empty((n, 10))
    C.backbone_geometry(np.ascontiguousarray(structure.backbone), chain, bool(ca_only), frames, angles)
    edge_feats = torch.empty((len(src), layout.edge_size), dtype=torch.float32)
    C.residue_edge_features(pos, frames, chain, src, dst, layout.n_rbf, float(layout.rbf_max),
                            layout.max_offset, edge_feats.numpy())
    x = torch.from_numpy(node_features(structure.residue_type, angles, embeddings))
    return ProteinGraph(Graph(torch.from_numpy(src), torch.from_numpy(dst), n), x, edge_feats,
                        pos, structure)


def residue_graph_from_coordinates(ca, residue_names=None, chain_ids=None, name="coordinates",
                                   **kwargs) -> ProteinGraph:
    """:func:`residue_graph` for a table of Calpha coordinates (frames from the Calpha trace)."""
    kwargs.setdefault("ca_only", True)
    return residue_graph(Structure.from_coordinates(ca, residue_names, chain_ids, name), **kwargs)


def distance_map(structure: Structure, node: str = "CA") -> np.ndarray:
    """``(n, n)`` float64 distances between residue nodes (DeepFRI's ``C_alpha`` / ``C_beta``
    npz maps are the same quantity for CA / CB)."""
    pos = node_positions(structure, node)
    diff = pos[:, None, :] - pos[None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


def contact_map(structure: Structure, cutoff: float = 10.0, node: str = "CA") -> np.ndarray:
    """``(n, n)`` boolean contacts (distance below ``cutoff``, diagonal excluded)."""
    cmap = distance_map(structure, node) < cutoff
    np.fill_diagonal(cmap, False)
    return cmap


def graph_from_distance_map(distances, sequence: str, cutoff: float = 10.0, sequence_edges: bool = True,
                            layout: FeatureLayout | None = None) -> ProteinGraph:
    """A residue graph from a precomputed distance map (e.g. DeepFRI's npz ``C_alpha`` with its
    ``seqres``). Without coordinates there are no frames: the direction and orientation
    features are zero; distances, sequence offsets and residue features are as usual."""
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"a distance map must be square, got shape {d.shape}")
    if len(sequence) != len(d):
        raise ValueError(f"sequence has {len(sequence)} residues for a {len(d)}x{len(d)} map")
    if not np.isfinite(d).all():
        raise ValueError("the distance map contains NaN or infinite values")
    layout = layout or FeatureLayout()
    n = len(d)
    adj = d < cutoff
    np.fill_diagonal(adj, False)
    if sequence_edges and n > 1:
        idx = np.arange(n - 1)
        adj[idx, idx + 1] = adj[idx + 1, idx] = True
    dst, src = np.nonzero(adj)
    structure = Structure.from_coordinates(np.zeros((n, 3)), list(sequence), name="distance map")
    E = len(src)
    feats = torch.from_numpy(assemble_edge_features(d[dst, src], np.zeros((E, 3)), np.zeros((E, 4)),
                                                    src - dst, np.ones(E, dtype=bool), layout))
    angles = np.zeros((n, 10))
    x = torch.from_numpy(node_features(structure.residue_type, angles))
    return ProteinGraph(Graph(torch.from_numpy(src.astype(np.int64)), torch.from_numpy(dst.astype(np.int64)), n),
                        x, feats, np.zeros((n, 3)), structure)
