"""Molecules (SMILES, RDKit Mol, SDF) to graphs.

Each bond becomes two directed edges, ``2b`` (begin -> end) and ``2b + 1`` (end -> begin), so
an edge's reverse is ``e ^ 1`` (what directed message passing needs). Single atoms, ions and
multi-fragment salts are valid graphs; zero edges is a valid graph."""
from __future__ import annotations

import contextlib
import gc
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import torch
from rdkit import Chem, RDLogger
from tqdm.auto import tqdm

from graphsci.chem.encoding import (_POOLS, InvalidMoleculeError, _as_featurizers, _encode, _encode_chunk,
                                    parse_smiles, pool_size, submit_chunk, take_prefetched, worker_pool)
from graphsci.graph import Graph

__all__ = ["InvalidMoleculeError", "MolGraph", "MolBatch", "Featurized", "parse_smiles", "mols_to_graphs",
           "mol_to_graph", "smiles_to_graph", "featurize", "featurize_batches"]


class MolGraph(NamedTuple):
    """A molecule as a graph: ``graph`` (atoms are nodes, each bond two directed edges),
    ``node_feats`` (num_atoms, atom size) and ``edge_feats`` (num_edges, bond size [+1 with
    self-loops]), float32."""

    graph: Graph
    node_feats: torch.Tensor
    edge_feats: torch.Tensor


def _graphs(enc, bond_size: int, self_loops: bool) -> list[MolGraph]:
    """Per-molecule graphs from a chunk's encoding: views into its arrays, not copies."""
    atoms, edges = enc.n_atoms.tolist(), (2 * enc.n_bonds).tolist()
    # one split per array instead of a slice per molecule and array
    node_x = torch.from_numpy(enc.node_x).split(atoms)
    src, dst = torch.from_numpy(enc.src).split(edges), torch.from_numpy(enc.dst).split(edges)
    edge_x = torch.from_numpy(enc.edge_x).split(edges)
    bnn = torch.from_numpy(enc.n_atoms).view(-1, 1).unbind(0)
    bne = torch.from_numpy(2 * enc.n_bonds).view(-1, 1).unbind(0)
    out = []
    for i, na in enumerate(atoms):
        s, d, ef, ne = src[i], dst[i], edge_x[i], bne[i]
        if self_loops:
            loops = torch.arange(na)
            s, d = torch.cat([s, loops]), torch.cat([d, loops])
            flag = torch.cat([torch.zeros(edges[i], 1), torch.ones(na, 1)])
            ef = torch.cat([torch.cat([ef, torch.zeros(na, bond_size)]), flag], 1)
            ne = torch.tensor([s.numel()])
        out.append(MolGraph(Graph._trusted(s, d, na, bnn[i], ne), node_x[i], ef))
    return out


@contextlib.contextmanager
def _collector_paused():
    """Featurisation builds many small objects and no reference cycles. With the collector on,
    their count triggers full collections that re-scan everything the process holds (torch
    alone is ~200k objects): a tenth to a fifth of featurisation time, for nothing to free."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def mols_to_graphs(mols: Sequence[Chem.Mol], atom_featurizer="canonical", bond_featurizer="canonical",
                   explicit_h: bool = False, self_loops: bool = False) -> list[MolGraph]:
    """Featurises a list of molecules in one vectorised pass (the fast path)."""
    af, bf = _as_featurizers(atom_featurizer, bond_featurizer)
    with _collector_paused():
        if explicit_h:
            mols = [Chem.AddHs(m) for m in mols]
        return _graphs(_encode(mols, af, bf), bf.size, self_loops)


def mol_to_graph(mol: Chem.Mol, atom_featurizer="canonical", bond_featurizer="canonical",
                 explicit_h: bool = False, self_loops: bool = False) -> MolGraph:
    """One RDKit molecule as a :class:`MolGraph`."""
    if not isinstance(mol, Chem.Mol):
        raise ValueError(f"expected an RDKit Mol, got {type(mol).__name__}")
    return mols_to_graphs([mol], atom_featurizer, bond_featurizer, explicit_h, self_loops)[0]


def smiles_to_graph(smiles: str, atom_featurizer="canonical", bond_featurizer="canonical",
                    explicit_h: bool = False, self_loops: bool = False) -> MolGraph:
    """One SMILES string as a :class:`MolGraph`; :class:`InvalidMoleculeError` if it is not a
    molecule."""
    return mol_to_graph(parse_smiles(smiles), atom_featurizer, bond_featurizer, explicit_h, self_loops)


class Featurized(NamedTuple):
    """Result of :func:`featurize`: ``graphs[i]`` is a MolGraph or None, ``errors[i]`` the
    reason when it is None."""

    graphs: list
    errors: list


def _encoded_chunks(smiles: list, af, bf, explicit_h: bool, n_jobs: int, chunk_size: int):
    """Yields ``(chunk, encoding, errors)`` per ``chunk_size`` SMILES, in input order. With
    ``n_jobs != 1`` the chunks are encoded in worker processes, at most two per worker ahead of
    the caller, so memory stays bounded while the caller works on earlier chunks."""
    chunks = [smiles[i:i + chunk_size] for i in range(0, len(smiles), chunk_size)]
    if n_jobs == 1 or len(chunks) <= 1:
        for chunk in chunks:
            started = take_prefetched(chunk, af.names, bf.names, explicit_h)
            yield (chunk, *(started.result() if started else _encode_chunk((chunk, af.names, bf.names, explicit_h))))
        return
    pool = worker_pool(n_jobs)
    ahead = 2 * pool_size(n_jobs)
    pending = deque()
    try:
        for i, chunk in enumerate(chunks):
            pending.append((chunk, submit_chunk(pool, chunk, af.names, bf.names, explicit_h)))
            if i + 1 >= ahead:
                done, future = pending.popleft()
                yield (done, *future.result())
        while pending:
            done, future = pending.popleft()
            yield (done, *future.result())
    except BrokenProcessPool:
        _POOLS.pop(pool_size(n_jobs), None)   # a dead worker: the next call starts a new pool
        raise
    finally:
        for _, future in pending:
            future.cancel()


class MolBatch(NamedTuple):
    """The valid molecules of a chunk of SMILES as one batched graph: ``rows`` are their
    positions in the chunk and ``errors`` has a reason for every invalid entry (else None)."""

    graph: Graph
    node_feats: torch.Tensor
    edge_feats: torch.Tensor
    rows: np.ndarray
    errors: list
    smiles: list


def featurize_batches(smiles: Iterable[str], atom_featurizer="canonical", bond_featurizer="canonical",
                      n_jobs: int = 1, chunk_size: int = 1000):
    """Yields a :class:`MolBatch` per ``chunk_size`` SMILES, in input order: the fast path for
    prediction (no per-molecule graph objects). With ``n_jobs != 1`` chunks are encoded in
    worker processes while the caller works on earlier ones."""
    af, bf = _as_featurizers(atom_featurizer, bond_featurizer)
    for chunk, enc, errors in _encoded_chunks(list(smiles), af, bf, False, n_jobs, chunk_size):
        shift = np.repeat(np.cumsum(enc.n_atoms) - enc.n_atoms, 2 * enc.n_bonds)
        g = Graph._trusted(torch.from_numpy(enc.src + shift), torch.from_numpy(enc.dst + shift),
                           int(enc.n_atoms.sum()), torch.from_numpy(enc.n_atoms),
                           torch.from_numpy(2 * enc.n_bonds))
        rows = np.array([i for i, e in enumerate(errors) if e is None], dtype=np.int64)
        yield MolBatch(g, torch.from_numpy(enc.node_x), torch.from_numpy(enc.edge_x), rows, errors,
                       [chunk[i] for i in rows])


def featurize(smiles: Iterable[str], atom_featurizer="canonical", bond_featurizer="canonical",
              explicit_h: bool = False, self_loops: bool = False, n_jobs: int = 1,
              chunk_size: int = 1000, progress: bool = True) -> Featurized:
    """Featurises many SMILES, in input order. Invalid entries give ``None`` and their reason
    in ``errors`` instead of stopping the run. With ``n_jobs != 1`` chunks go to worker
    processes (``n_jobs <= 0``: one per core); a progress bar shows on a terminal."""
    smiles = list(smiles)
    af, bf = _as_featurizers(atom_featurizer, bond_featurizer)
    graphs, errors = [], []
    with tqdm(total=len(smiles), desc="featurize", unit="mol", disable=(not progress) or None) as bar, \
            _collector_paused():
        for chunk, enc, chunk_errors in _encoded_chunks(smiles, af, bf, explicit_h, n_jobs, chunk_size):
            valid = iter(_graphs(enc, bf.size, self_loops))
            graphs += [next(valid) if e is None else None for e in chunk_errors]
            errors += chunk_errors
            bar.update(len(chunk))
    return Featurized(graphs, errors)


RDLogger.DisableLog("rdApp.debug")
