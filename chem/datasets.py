"""Molecule property datasets from CSV files (MoleculeNet style): a SMILES column, one or more
target columns, empty cells for missing labels. Rows whose SMILES RDKit rejects are reported
(row number, SMILES, RDKit's reason) and left out; they never stop a run."""
from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch

from graphsci.chem.encoding import guess_smiles_column
from graphsci.chem.molgraph import featurize
from graphsci.data.graphs import GraphDataset, GraphSample


class InvalidRow(NamedTuple):
    row: int        # 0-based position in the input (a CSV's first data line is 0)
    smiles: object
    reason: str


class MoleculeDataset(GraphDataset):
    """Featurised molecules with targets (float, NaN = missing). ``rows`` maps each sample to
    its input row; ``invalid`` lists the rows that were skipped."""

    def __init__(self, samples, smiles, rows, target_names, invalid, atom_featurizer, bond_featurizer):
        super().__init__(samples)
        self.smiles, self.rows, self.target_names = list(smiles), np.asarray(rows), list(target_names)
        self.invalid = list(invalid)
        self.atom_featurizer, self.bond_featurizer = atom_featurizer, bond_featurizer

    @property
    def y(self) -> torch.Tensor:
        return torch.stack([s.y for s in self.samples]) if self.samples else torch.zeros(0, len(self.target_names))

    def subset(self, indices: Sequence[int]) -> "MoleculeDataset":
        idx = [int(i) for i in indices]
        return MoleculeDataset([self.samples[i] for i in idx], [self.smiles[i] for i in idx],
                               self.rows[idx], self.target_names, [], self.atom_featurizer,
                               self.bond_featurizer)


def from_smiles(smiles: Sequence[str], targets=None, target_names=None, atom_featurizer="canonical",
                bond_featurizer="canonical", n_jobs: int = 1, progress: bool = True) -> MoleculeDataset:
    """A dataset from SMILES and an optional ``(n,)`` or ``(n, tasks)`` target array."""
    smiles = list(smiles)
    if targets is None:
        y = np.full((len(smiles), 0), np.nan)
    else:
        y = np.asarray(targets, dtype=np.float64)
        y = y.reshape(len(y), -1) if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[0] != len(smiles):
            raise ValueError(f"targets have {y.shape[0] if y.ndim else 0} rows for {len(smiles)} SMILES")
    names = list(target_names) if target_names is not None else [f"task{j}" for j in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} target names for {y.shape[1]} target columns")
    result = featurize(smiles, atom_featurizer, bond_featurizer, n_jobs=n_jobs, progress=progress)
    samples, kept, rows, invalid = [], [], [], []
    for i, (mg, err) in enumerate(zip(result.graphs, result.errors)):
        if mg is None:
            invalid.append(InvalidRow(i, smiles[i], err))
            continue
        samples.append(GraphSample(mg.graph, mg.node_feats, mg.edge_feats,
                                   torch.tensor(y[i], dtype=torch.float32)))
        kept.append(smiles[i])
        rows.append(i)
    return MoleculeDataset(samples, kept, rows, names, invalid, atom_featurizer, bond_featurizer)


def load_csv(path: str | os.PathLike, smiles_col: str | None = None,
             target_cols: Sequence[str] | None = None, **kwargs) -> MoleculeDataset:
    """Reads a CSV (also ``.csv.gz``): ``smiles_col`` (default: a column named like "smiles")
    and ``target_cols`` (default: every other numeric column). Remaining keyword arguments go
    to :func:`from_smiles` (featurizers, ``n_jobs``, ``progress``)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        df = pd.read_csv(path, compression="infer")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"could not read {path} as CSV: {exc}") from exc
    smiles_col = smiles_col if smiles_col is not None else guess_smiles_column(df)
    if smiles_col not in df.columns:
        raise ValueError(f"column {smiles_col!r} not in {path} (columns: {', '.join(map(str, df.columns))})")
    if target_cols is None:
        target_cols = [c for c in df.columns if c != smiles_col and pd.api.types.is_numeric_dtype(df[c])]
    missing = [c for c in target_cols if c not in df.columns]
    if missing:
        raise ValueError(f"target column(s) {missing} not in {path} (columns: {', '.join(map(str, df.columns))})")
    targets = []
    for c in target_cols:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() & df[c].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"target column {c!r} holds a non-numeric value {df[c].iloc[i]!r} at row {i}")
        targets.append(values.to_numpy(dtype=np.float64))
    y = np.stack(targets, 1) if targets else None
    return from_smiles(df[smiles_col].tolist(), y, list(target_cols), **kwargs)
