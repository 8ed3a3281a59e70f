"""Molecule-level RDKit descriptors as extra inputs to the network head (as chemprop's
``--features-generators rdkit_2d``): whole-molecule properties such as logP, polar surface area
or fragment counts that message passing over a few bonds sees only indirectly."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import Descriptors
from rdkit.Chem.EState import EStateIndices

# The slowest RDKit descriptors (QED, the information-content and synthetic-complexity scores,
# Bertz complexity) cost more than all the others together and add little here.
_SLOW = {"qed", "Ipc", "AvgIpc", "SPS", "BertzCT"}
DESCRIPTOR_SETS = {"rdkit2d": tuple(name for name, _ in Descriptors.descList if name not in _SLOW)}
# RDKit recomputes the E-state indices (a Python loop over atom pairs) for each of these unless
# told to reuse the copy it caches on the molecule; reusing it saves a fifth of the time.
_REUSE_ESTATE = {"MaxEStateIndex", "MinEStateIndex", "MaxAbsEStateIndex", "MinAbsEStateIndex"}


def descriptor_names(kind: str) -> tuple[str, ...]:
    if kind not in DESCRIPTOR_SETS:
        raise ValueError(f"unknown molecule features {kind!r}; expected one of {', '.join(DESCRIPTOR_SETS)}")
    return DESCRIPTOR_SETS[kind]


def _compute_chunk(args) -> np.ndarray:
    smiles, kind = args
    functions = dict(Descriptors.descList)
    names = descriptor_names(kind)
    out = np.full((len(smiles), len(names)), np.nan, dtype=np.float64)
    with rdBase.BlockLogs(), np.errstate(all="ignore"):
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                continue
            try:
                EStateIndices(mol)     # caches them on mol; the E-state VSA bins reuse it too
            except (ValueError, RuntimeError, ZeroDivisionError, OverflowError):
                pass     # each E-state descriptor then fails on its own and is left NaN
            for j, name in enumerate(names):
                try:
                    out[i, j] = (functions[name](mol, force=False) if name in _REUSE_ESTATE
                                 else functions[name](mol))
                except (ValueError, RuntimeError, ZeroDivisionError, OverflowError):
                    pass     # left NaN: imputed when standardised
    out[~np.isfinite(out)] = np.nan
    return out


def mol_descriptors(smiles: Sequence[str], kind: str = "rdkit2d", n_jobs: int = 1,
                    chunk_size: int = 500) -> np.ndarray:
    """``(n, d)`` float64 descriptors of valid SMILES; NaN where RDKit cannot compute a value."""
    names = descriptor_names(kind)
    smiles = list(smiles)
    chunks = [(smiles[i:i + chunk_size], kind) for i in range(0, len(smiles), chunk_size)]
    if not chunks:
        return np.zeros((0, len(names)))
    if n_jobs == 1 or len(chunks) == 1:
        parts = [_compute_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_compute_chunk, chunks))
    return np.concatenate(parts)


class DescriptorScaler:
    """Standardises descriptors with training statistics; missing values become 0 (the training
    mean) and extreme values are clipped, so no row gives NaN or a runaway input."""

    def __init__(self, mean=None, scale=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, values: np.ndarray) -> "DescriptorScaler":
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self.mean = np.nan_to_num(np.nanmean(values, 0))
                scale = np.nan_to_num(np.nanstd(values, 0))
        scale[scale < 1e-12] = 1.0
        self.scale = scale
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        z = (values - self.mean) / self.scale
        return np.clip(np.nan_to_num(z, nan=0.0, posinf=10.0, neginf=-10.0), -10.0, 10.0).astype(np.float32)
