"""Train / validation / test splits of molecule datasets, as index arrays."""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold


def _sizes(n: int, fractions) -> tuple[int, int]:
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return n_train, min(n_val, n - n_train)


def random_split(n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0):
    """A seeded random permutation cut into train / validation / test."""
    n_train, n_val = _sizes(n, fractions)
    perm = np.random.default_rng(seed).permutation(n)
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]


def scaffold(smiles: str) -> str:
    """Bemis-Murcko scaffold SMILES (without chirality); acyclic molecules share ``""``."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}")
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: Sequence[str], fractions=(0.8, 0.1, 0.1)):
    """Molecules grouped by Bemis-Murcko scaffold; the largest groups fill train, then
    validation, then test. Deterministic (equal sizes: later first, as DeepChem) and no scaffold is in
    two parts."""
    n_train, n_val = _sizes(len(smiles), fractions)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(smiles):
        groups[scaffold(s)].append(i)
    # Largest sets first; among equal sizes the later-appearing set first, as DeepChem's
    # ScaffoldSplitter does, so test sets match the MoleculeNet convention. (Earliest-first
    # would put, e.g., only positives into BBBP's validation and test parts.)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    train, val, test = [], [], []
    for g in ordered:
        if len(train) + len(g) <= n_train:
            train += g
        elif len(val) + len(g) <= n_val:
            val += g
        else:
            test += g
    return np.array(train, dtype=np.int64), np.array(val, dtype=np.int64), np.array(test, dtype=np.int64)


def stratified_split(y: Sequence, fractions=(0.8, 0.1, 0.1), seed: int = 0):
    """For single-task classification: each class is split in the given proportions. Rows with
    a missing label (NaN) go to train."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    _sizes(len(y), fractions)
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for value in np.unique(y[~np.isnan(y)]):
        idx = rng.permutation(np.flatnonzero(y == value))
        n_train, n_val = _sizes(len(idx), fractions)
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train:n_train + n_val])
        parts[2].append(idx[n_train + n_val:])
    parts[0].append(np.flatnonzero(np.isnan(y)))
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64) for p in parts)


def split(dataset, method: str = "random", fractions=(0.8, 0.1, 0.1), seed: int = 0):
    """``(train, val, test)`` subsets of a :class:`MoleculeDataset`."""
    if method == "random":
        parts = random_split(len(dataset), fractions, seed)
    elif method == "scaffold":
        parts = scaffold_split(dataset.smiles, fractions)
    elif method == "stratified":
        y = dataset.y
        if y.shape[1] != 1:
            raise ValueError("stratified split needs exactly one target column")
        parts = stratified_split(y[:, 0].numpy(), fractions, seed)
    else:
        raise ValueError(f"unknown split {method!r}; expected random, scaffold or stratified")
    return tuple(dataset.subset(p) for p in parts)
