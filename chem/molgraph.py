"""Molecules (SMILES, RDKit Mol, SDF) to graphs.

Each bond becomes two directed edges, ``2b`` (begin -> end) and ``2b + 1`` (end -> begin), so
an edge's reverse is ``e ^ 1`` (what directed message passing needs). Single atoms, ions and
multi-fragment salts are valid graphs; zero edges is a valid graph."""
from __future__ import annotations

import gzip
import logging
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import torch
from rdkit import Chem, RDLogger, rdBase
from tqdm.auto import tqdm

from graphsci.chem.features import AtomFeaturizer, BondFeaturizer
from graphsci.graph import Graph


class InvalidMoleculeError(ValueError):
    """A SMILES string or SDF record RDKit cannot turn into a molecule; the message carries
    RDKit's own reason."""


class MolGraph(NamedTuple):
    """A molecule as a graph: ``graph`` (atoms are nodes, each bond two directed edges),
    ``node_feats`` (num_atoms, atom size) and ``edge_feats`` (num_edges, bond size [+1 with
    self-loops]), float32."""

    graph: Graph
    node_feats: torch.Tensor
    edge_feats: torch.Tensor


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage().strip())


def _reason(smiles: str) -> str:
    """RDKit's explanation of why ``smiles`` does not parse (re-parsed with logging captured,
    only on the failure path)."""
    if not isinstance(smiles, str) or not smiles.strip():
        return "empty SMILES"
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        problems = Chem.DetectChemistryProblems(mol) if mol is not None else ()
    if problems:
        return "; ".join(p.Message() for p in problems)
    handler, logger = _Capture(), logging.getLogger("rdkit")
    # Only our handler while capturing: RDKit may have given its logger a stderr handler.
    saved, logger.handlers = logger.handlers, [handler]
    propagate, logger.propagate = logger.propagate, False
    rdBase.LogToPythonLogger()
    try:
        Chem.MolFromSmiles(smiles)
    finally:
        rdBase.LogToCppStreams()
        logger.handlers = saved
        logger.propagate = propagate
    # RDKit prefixes "[hh:mm:ss] " and splits one report over several lines.
    lines = [re.sub(r"^\[\d\d:\d\d:\d\d\]\s*", "", m) for m in handler.messages]
    lines = [m for m in lines if m]
    return " ".join(lines[:2]) if lines else "RDKit could not parse it"


def parse_smiles(smiles: str) -> Chem.Mol:
    """An RDKit molecule, or :class:`InvalidMoleculeError` with RDKit's reason."""
    if isinstance(smiles, str) and smiles.strip():
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smiles)
        if mol is not None:
            return mol
    raise InvalidMoleculeError(f"invalid SMILES {smiles!r}: {_reason(smiles)}")


def _as_featurizers(atom_featurizer, bond_featurizer):
    af = atom_featurizer if isinstance(atom_featurizer, AtomFeaturizer) else AtomFeaturizer(atom_featurizer)
    bf = bond_featurizer if isinstance(bond_featurizer, BondFeaturizer) else BondFeaturizer(bond_featurizer)
    return af, bf


class _Encoded(NamedTuple):
    """A list of molecules encoded at once: features and bond ends of all of them, concatenated."""

    node_x: np.ndarray      # (atoms, atom size) float32
    edge_x: np.ndarray      # (2 * bonds, bond size) float32, bond b at rows 2b and 2b + 1
    src: np.ndarray         # (2 * bonds,) int64, atom ids local to each molecule
    dst: np.ndarray
    n_atoms: np.ndarray     # (molecules,) int64
    n_bonds: np.ndarray


def _encode(mols, af: AtomFeaturizer, bf: BondFeaturizer) -> _Encoded:
    # Read values molecule by molecule: RDKit's atom/bond wrappers are costly objects, and a
    # chunk's worth of them alive at once makes the garbage collector rescan them repeatedly.
    atom_cols = [[] for _ in af.getters]
    bond_cols = [[] for _ in bf.getters]
    begin, end, n_atoms, n_bonds = [], [], [], []
    for m in mols:
        atoms = list(map(m.GetAtomWithIdx, range(m.GetNumAtoms())))
        for col, get in zip(atom_cols, af.getters):
            col.extend(map(get, atoms))  # the loop runs in C
        bonds = list(map(m.GetBondWithIdx, range(m.GetNumBonds())))
        for col, get in zip(bond_cols, bf.getters):
            col.extend(map(get, bonds))
        begin.extend(map(Chem.Bond.GetBeginAtomIdx, bonds))
        end.extend(map(Chem.Bond.GetEndAtomIdx, bonds))
        n_atoms.append(len(atoms))
        n_bonds.append(len(bonds))
    ends = np.stack([np.asarray(begin, dtype=np.int64), np.asarray(end, dtype=np.int64)], 1)
    # bond b -> edges 2b (begin -> end) and 2b + 1 (end -> begin), for every molecule at once
    return _Encoded(af.encode(atom_cols), np.repeat(bf.encode(bond_cols), 2, axis=0),
                    ends.reshape(-1).copy(), ends[:, ::-1].reshape(-1).copy(),
                    np.asarray(n_atoms, dtype=np.int64), np.asarray(n_bonds, dtype=np.int64))


def mols_to_graphs(mols: Sequence[Chem.Mol], atom_featurizer="canonical", bond_featurizer="canonical",
                   explicit_h: bool = False, self_loops: bool = False) -> list[MolGraph]:
    """Featurises a list of molecules in one vectorised pass (the fast path)."""
    af, bf = _as_featurizers(atom_featurizer, bond_featurizer)
    if explicit_h:
        mols = [Chem.AddHs(m) for m in mols]
    enc = _encode(mols, af, bf)
    node_x, edge_x = torch.from_numpy(enc.node_x), torch.from_numpy(enc.edge_x)
    src, dst = torch.from_numpy(enc.src), torch.from_numpy(enc.dst)
    out, a0, e0 = [], 0, 0
    for na, nb in zip(enc.n_atoms.tolist(), enc.n_bonds.tolist()):
        s, d, ef = src[e0:e0 + 2 * nb], dst[e0:e0 + 2 * nb], edge_x[e0:e0 + 2 * nb]
        if self_loops:
            loops = torch.arange(na)
            s, d = torch.cat([s, loops]), torch.cat([d, loops])
            flag = torch.cat([torch.zeros(2 * nb, 1), torch.ones(na, 1)])
            ef = torch.cat([torch.cat([ef, torch.zeros(na, bf.size)]), flag], 1)
        g = Graph._trusted(s, d, na, torch.tensor([na]), torch.tensor([s.numel()]))
        out.append(MolGraph(g, node_x[a0:a0 + na], ef))
        a0, e0 = a0 + na, e0 + 2 * nb
    return out


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


def _featurize_chunk(args) -> Featurized:
    smiles, atom_spec, bond_spec, explicit_h, self_loops = args
    mols, errors = _parse_chunk(smiles)
    graphs = iter(mols_to_graphs(mols, atom_spec, bond_spec, explicit_h, self_loops))
    return Featurized([next(graphs) if e is None else None for e in errors], errors)


class MolBatch(NamedTuple):
    """The valid molecules of a chunk of SMILES as one batched graph: ``rows`` are their
    positions in the chunk and ``errors`` has a reason for every invalid entry (else None)."""

    graph: Graph
    node_feats: torch.Tensor
    edge_feats: torch.Tensor
    rows: np.ndarray
    errors: list
    smiles: list


def _parse_chunk(smiles):
    with rdBase.BlockLogs():
        parsed = [Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None for s in smiles]
    errors = [None if m is not None else f"invalid SMILES {s!r}: {_reason(s)}" for s, m in zip(smiles, parsed)]
    return [m for m in parsed if m is not None], errors


def _encode_chunk(args):
    smiles, atom_spec, bond_spec = args
    mols, errors = _parse_chunk(smiles)
    return _encode(mols, *_as_featurizers(atom_spec, bond_spec)), errors


def featurize_batches(smiles: Iterable[str], atom_featurizer="canonical", bond_featurizer="canonical",
                      n_jobs: int = 1, chunk_size: int = 1000):
    """Yields a :class:`MolBatch` per ``chunk_size`` SMILES, in input order: the fast path for
    prediction (no per-molecule graph objects). With ``n_jobs > 1`` chunks are encoded in worker
    processes while the caller works on earlier ones."""
    smiles = list(smiles)
    af, bf = _as_featurizers(atom_featurizer, bond_featurizer)
    chunks = [(smiles[i:i + chunk_size], af.names, bf.names) for i in range(0, len(smiles), chunk_size)]
    pool = None
    if n_jobs == 1 or len(chunks) <= 1:
        results = map(_encode_chunk, chunks)
    else:
        pool = ProcessPoolExecutor(max_workers=n_jobs if n_jobs > 0 else os.cpu_count(),
                                   mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_encode_chunk, chunks)
    try:
        for (chunk, _, _), (enc, errors) in zip(chunks, results):
            shift = np.repeat(np.cumsum(enc.n_atoms) - enc.n_atoms, 2 * enc.n_bonds)
            g = Graph._trusted(torch.from_numpy(enc.src + shift), torch.from_numpy(enc.dst + shift),
                               int(enc.n_atoms.sum()), torch.from_numpy(enc.n_atoms),
                               torch.from_numpy(2 * enc.n_bonds))
            rows = np.array([i for i, e in enumerate(errors) if e is None], dtype=np.int64)
            yield MolBatch(g, torch.from_numpy(enc.node_x), torch.from_numpy(enc.edge_x), rows, errors,
                           [chunk[i] for i in rows])
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def featurize(smiles: Iterable[str], atom_featurizer="canonical", bond_featurizer="canonical",
              explicit_h: bool = False, self_loops: bool = False, n_jobs: int = 1,
              chunk_size: int = 1000, progress: bool = True) -> Featurized:
    """Featurises many SMILES, in input order. Invalid entries give ``None`` and their reason
    in ``errors`` instead of stopping the run. With ``n_jobs > 1`` chunks go to worker
    processes; a progress bar shows on a terminal."""
    smiles = list(smiles)
    af, bf = _as_featurizers(atom_featurizer, bond_featurizer)
    chunks = [(smiles[i:i + chunk_size], af.names, bf.names, explicit_h, self_loops)
              for i in range(0, len(smiles), chunk_size)]
    graphs, errors = [], []
    bar = tqdm(total=len(smiles), desc="featurize", unit="mol", disable=(not progress) or None)
    if n_jobs == 1 or len(chunks) <= 1:
        results = map(_featurize_chunk, chunks)
        pool = None
    else:
        # "spawn", not fork: forking a process whose OpenMP/torch thread pools are running can
        # deadlock the child.
        pool = ProcessPoolExecutor(max_workers=n_jobs if n_jobs > 0 else os.cpu_count(),
                                   mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_featurize_chunk, chunks)
    try:
        for r in results:
            graphs += r.graphs
            errors += r.errors
            bar.update(len(r.graphs))
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    return Featurized(graphs, errors)


def read_sdf(path: str | os.PathLike) -> tuple[list, list]:
    """Molecules of an SDF file (``.sdf`` or ``.sdf.gz``) in file order: ``(mols, errors)`` with
    ``None`` and a reason for records RDKit rejects."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such SDF file: {path}")
    opener = gzip.open if path.endswith(".gz") else open
    mols, errors = [], []
    with opener(path, "rb") as fh, rdBase.BlockLogs():
        for i, m in enumerate(Chem.ForwardSDMolSupplier(fh)):
            mols.append(m)
            errors.append(None if m is not None else f"SDF record {i + 1} could not be read")
    return mols, errors


RDLogger.DisableLog("rdApp.debug")
