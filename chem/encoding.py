"""The torch-free half of molecule featurisation: SMILES parsing with RDKit's reasons for
failures, and the encoding of a list of molecules into feature arrays and bond ends. Worker
processes import only this module (numpy + RDKit), so they start in a fraction of a second
instead of paying torch's import time."""
from __future__ import annotations

import logging
import multiprocessing
import os
import re
from concurrent.futures import Future, ProcessPoolExecutor
from typing import NamedTuple

import numpy as np

# RDKit (and the feature vocabularies built from it) load on first use: the command line starts
# its workers through this module before it needs RDKit itself, so they start half a second
# sooner.


def guess_smiles_column(df) -> str:
    """The column of a table (or in a list of column names) named like a SMILES column."""
    columns = getattr(df, "columns", df)
    for c in columns:
        if str(c).strip().lower() in ("smiles", "smi", "canonical_smiles"):
            return c
    raise ValueError(f"no SMILES column found; pass smiles_col= (columns: {', '.join(map(str, columns))})")


class InvalidMoleculeError(ValueError):
    """A SMILES string or SDF record RDKit cannot turn into a molecule; the message carries
    RDKit's own reason."""


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage().strip())


def _reason(smiles: str) -> str:
    """RDKit's explanation of why ``smiles`` does not parse (re-parsed with logging captured,
    only on the failure path)."""
    from rdkit import Chem
    if not isinstance(smiles, str) or not smiles.strip():
        return "empty SMILES"
    return rdkit_reason(Chem.MolFromSmiles, smiles)


def rdkit_reason(parse, text: str) -> str:
    """Why ``parse(text)`` (an RDKit reader taking ``sanitize=``) gives no molecule: the
    chemistry problems of the unsanitized molecule, else what RDKit logs while it fails."""
    from rdkit import Chem, rdBase
    with rdBase.BlockLogs():
        mol = parse(text, sanitize=False)
        problems = Chem.DetectChemistryProblems(mol) if mol is not None else ()
    if problems:
        return "; ".join(p.Message() for p in problems)
    handler, logger = _Capture(), logging.getLogger("rdkit")
    # Only our handler while capturing: RDKit may have given its logger a stderr handler.
    saved, logger.handlers = logger.handlers, [handler]
    propagate, logger.propagate = logger.propagate, False
    rdBase.LogToPythonLogger()
    try:
        parse(text)
    finally:
        rdBase.LogToCppStreams()
        logger.handlers = saved
        logger.propagate = propagate
    # RDKit prefixes "[hh:mm:ss] " and splits one report over several lines.
    # The SD reader adds "ERROR: " and a note that it skips to the next record.
    lines = [re.sub(r"^(\[\d\d:\d\d:\d\d\]\s*)?(ERROR:\s*)?", "", m) for m in handler.messages]
    lines = [m for m in lines if m and not m.startswith("moving to the beginning of the next molecule")]
    return " ".join(lines[:2]) if lines else "RDKit could not parse it"


def parse_smiles(smiles: str) -> Chem.Mol:
    """An RDKit molecule, or :class:`InvalidMoleculeError` with RDKit's reason."""
    from rdkit import Chem, rdBase
    if isinstance(smiles, str) and smiles.strip():
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smiles)
        if mol is not None:
            return mol
    raise InvalidMoleculeError(f"invalid SMILES {smiles!r}: {_reason(smiles)}")


def _as_featurizers(atom_featurizer, bond_featurizer):
    from graphsci.chem.features import AtomFeaturizer, BondFeaturizer
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
    from graphsci.chem.columns import mol_columns
    cols = mol_columns(mols)
    ends = np.stack([cols.bond("begin"), cols.bond("end")], 1).astype(np.int64)
    # bond b -> edges 2b (begin -> end) and 2b + 1 (end -> begin), for every molecule at once
    edge_x = np.repeat(bf.encode(cols.bond, len(cols.bonds)), 2, axis=0)
    return _Encoded(af.encode(cols.atom, len(cols.atoms)), edge_x, ends.reshape(-1),
                    ends[:, ::-1].reshape(-1).copy(), cols.n_atoms, cols.n_bonds)


def _parse_chunk(smiles):
    from rdkit import Chem, rdBase
    with rdBase.BlockLogs():
        parsed = [Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None for s in smiles]
    errors = [None if m is not None else f"invalid SMILES {s!r}: {_reason(s)}" for s, m in zip(smiles, parsed)]
    return [m for m in parsed if m is not None], errors


def _encode_chunk(args):
    """The work of one chunk, in a worker process or in the caller's: parse, then encode the
    valid molecules."""
    from rdkit import Chem
    smiles, atom_spec, bond_spec, explicit_h = args
    mols, errors = _parse_chunk(smiles)
    if explicit_h:
        mols = [Chem.AddHs(m) for m in mols]
    return _encode(mols, *_as_featurizers(atom_spec, bond_spec)), errors


# Molecules per batch when predicting: a batch's edge-sized activations (a few MB for 256
# drug-sized molecules) stay in cache.
PREDICT_CHUNK = 256

_POOLS: dict[int, ProcessPoolExecutor] = {}
# Encodings started ahead of need (prefetch), by (SMILES, atom features, bond features,
# explicit H); a list, since an input can hold the same chunk twice.
_PREFETCHED: dict[tuple, list[Future]] = {}


def pool_size(n_jobs: int) -> int:
    """Worker processes for ``n_jobs`` (``<= 0``: one per core)."""
    return n_jobs if n_jobs > 0 else (os.cpu_count() or 1)


def worker_pool(n_jobs: int) -> ProcessPoolExecutor:
    """The featurisation pool of :func:`pool_size` workers, kept for the life of the process:
    workers import only numpy and RDKit, and a notebook or a command line that featurises
    chunk after chunk starts them once (each starts with the first task it is given)."""
    n = pool_size(n_jobs)
    if n not in _POOLS:
        # "spawn", not fork: forking a process whose OpenMP/torch thread pools are running can
        # deadlock the child.
        _POOLS[n] = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
    return _POOLS[n]


def _key(chunk, atom_names, bond_names, explicit_h) -> tuple:
    return tuple(chunk), tuple(atom_names), tuple(bond_names), bool(explicit_h)


def submit_chunk(pool: ProcessPoolExecutor, chunk: list, atom_names, bond_names, explicit_h: bool) -> Future:
    """The encoding of ``chunk``: the prefetched one if it was started, else submitted now."""
    future = take_prefetched(chunk, atom_names, bond_names, explicit_h)
    return future or pool.submit(_encode_chunk, (chunk, atom_names, bond_names, explicit_h))


def take_prefetched(chunk: list, atom_names, bond_names, explicit_h: bool) -> Future | None:
    """The prefetched encoding of ``chunk``, if one was started (it is handed out once)."""
    if not _PREFETCHED:
        return None
    key = _key(chunk, atom_names, bond_names, explicit_h)
    futures = _PREFETCHED.get(key)
    if not futures:
        return None
    future = futures.pop(0)
    if not futures:
        del _PREFETCHED[key]
    return future


def prefetch(smiles: list, atom_names, bond_names, n_jobs: int, chunk_size: int = PREDICT_CHUNK) -> None:
    """Starts encoding ``smiles`` in worker processes now, in chunks of ``chunk_size``. A later
    featurisation of the same SMILES with the same features and chunking (a prediction, for
    ``PREDICT_CHUNK``) picks the results up instead of encoding them again: the command line
    starts on the molecules while it is still importing torch to load the model."""
    pool = worker_pool(n_jobs)
    for i in range(0, len(smiles), chunk_size):
        chunk = list(smiles[i:i + chunk_size])
        _PREFETCHED.setdefault(_key(chunk, atom_names, bond_names, False), []).append(
            pool.submit(_encode_chunk, (chunk, list(atom_names), list(bond_names), False)))
