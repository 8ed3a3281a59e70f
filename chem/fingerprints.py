"""Morgan (circular, ECFP-like) fingerprints as a dense matrix for tree models. Torch-free, so
the worker processes of a large input import only numpy and RDKit."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from tqdm.auto import tqdm

from graphsci.chem.encoding import _parse_chunk, worker_pool

# Molecules per worker task: large enough that a task outlasts its dispatch, small enough to
# keep both a progress bar and the memory of one chunk's matrix (1024 x 2048 float32 = 8 MB) low.
FINGERPRINT_CHUNK = 1024


class Fingerprints(NamedTuple):
    X: np.ndarray           # (valid molecules, n_bits) float32
    rows: np.ndarray        # (valid molecules,) int64: each X row's position in the input
    errors: list            # per input: None, or why RDKit could not read it


def _fingerprint_chunk(args) -> tuple[np.ndarray, list]:
    from rdkit.Chem import rdFingerprintGenerator

    smiles, radius, n_bits, counts = args
    mols, errors = _parse_chunk(smiles)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fingerprint = gen.GetCountFingerprintAsNumPy if counts else gen.GetFingerprintAsNumPy
    X = np.zeros((len(mols), n_bits), dtype=np.float32)
    for i, mol in enumerate(mols):
        X[i] = fingerprint(mol)
    return X, errors


def morgan_fingerprints(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048, counts: bool = True,
                        n_jobs: int = 1, progress: bool = False) -> Fingerprints:
    """Morgan fingerprints of the valid SMILES (``counts``: how often each hashed environment
    occurs, else 0/1). Invalid SMILES get no row, only an error message; the input order is
    kept. ``n_jobs`` > 1 (or <= 0: one per core) computes chunks in worker processes."""
    if int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    if int(n_bits) != n_bits or n_bits < 1:
        raise ValueError(f"n_bits must be a positive integer, got {n_bits!r}")
    smiles = list(smiles)
    tasks = [(smiles[i:i + FINGERPRINT_CHUNK], int(radius), int(n_bits), bool(counts))
             for i in range(0, len(smiles), FINGERPRINT_CHUNK)]
    if n_jobs == 1 or len(tasks) <= 1:
        results = map(_fingerprint_chunk, tasks)
    else:
        results = worker_pool(n_jobs).map(_fingerprint_chunk, tasks)
    parts, errors = [np.zeros((0, int(n_bits)), dtype=np.float32)], []
    with tqdm(total=len(smiles), desc="fingerprints", unit="mol", disable=(not progress) or None) as bar:
        for X, chunk_errors in results:
            parts.append(X)
            errors.extend(chunk_errors)
            bar.update(len(chunk_errors))
    rows = np.array([i for i, e in enumerate(errors) if e is None], dtype=np.int64)
    return Fingerprints(np.concatenate(parts), rows, errors)
