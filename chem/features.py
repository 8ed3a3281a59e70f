"""Atom and bond features, by name, and featurizers built from lists of names.

Every feature reads one column of :mod:`graphsci.chem.columns` (an integer or boolean RDKit
gives per atom or bond, read for whole chunks of molecules at once). A feature with a vocabulary
is one-hot encoded (values outside the vocabulary go to a final "other" slot when the feature
has one); a feature without a vocabulary is a single scaled number."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from rdkit import Chem

HYB = Chem.rdchem.HybridizationType
CHI = Chem.rdchem.ChiralType
BT = Chem.rdchem.BondType
BS = Chem.rdchem.BondStereo


@dataclass(frozen=True)
class Feature:
    """``column`` names the value read per atom or bond (see :mod:`graphsci.chem.columns`);
    ``vocab`` (one-hot) or ``scale`` (a single number)."""

    column: str
    vocab: tuple | None = None
    other: bool = True
    scale: float = 1.0

    @property
    def size(self) -> int:
        return 1 if self.vocab is None else len(self.vocab) + int(self.other)


def _onehot(column, values, other=True):
    return Feature(column, tuple(int(v) for v in values), other)


_COMMON = ("H B C N O F Si P S Cl As Se Br Te I At Li Na K Mg Ca Al Fe Zn Cu Co Ni Mn Cr Sn "
           "Pb Pt Pd Au Ag Hg Ti V Ge Sb Bi Gd Yb").split()
_PT = Chem.GetPeriodicTable()

ATOM_FEATURES: dict[str, Feature] = {
    "element": _onehot("atomic_num", [_PT.GetAtomicNumber(s) for s in _COMMON]),
    "element_compact": _onehot("atomic_num", [6, 7, 8, 9, 15, 16, 17, 35, 53]),
    "element_chemprop": _onehot("atomic_num", list(range(1, 37)) + [53]),
    "degree": _onehot("degree", range(6)),
    "total_degree": _onehot("total_degree", range(6)),
    "implicit_h": _onehot("implicit_h", range(5)),
    "total_h": _onehot("total_h", range(5)),
    "formal_charge": _onehot("formal_charge", [-2, -1, 0, 1, 2]),
    "radical_electrons": _onehot("radical_electrons", range(3)),
    "hybridization": _onehot("hybridization", [HYB.SP, HYB.SP2, HYB.SP3, HYB.SP3D, HYB.SP3D2]),
    "hybridization_chemprop": _onehot("hybridization",
                                      [HYB.S, HYB.SP, HYB.SP2, HYB.SP2D, HYB.SP3, HYB.SP3D, HYB.SP3D2]),
    "chirality": _onehot("chiral_tag", [CHI.CHI_UNSPECIFIED, CHI.CHI_TETRAHEDRAL_CW, CHI.CHI_TETRAHEDRAL_CCW]),
    "chirality_chemprop": _onehot("chiral_tag", [CHI.CHI_UNSPECIFIED, CHI.CHI_TETRAHEDRAL_CW,
                                                 CHI.CHI_TETRAHEDRAL_CCW, CHI.CHI_OTHER]),
    "aromatic": Feature("aromatic"),
    "in_ring": Feature("in_ring"),
    "mass": Feature("mass", scale=0.01),
}

BOND_FEATURES: dict[str, Feature] = {
    "bond_type": _onehot("bond_type", [BT.SINGLE, BT.DOUBLE, BT.TRIPLE, BT.AROMATIC]),
    "conjugated": Feature("conjugated"),
    "in_ring": Feature("in_ring"),
    "stereo": _onehot("stereo", [BS.STEREONONE, BS.STEREOANY, BS.STEREOZ, BS.STEREOE,
                                 BS.STEREOCIS, BS.STEREOTRANS]),
}

ATOM_PRESETS = {
    # element, degree, implicit and total H, charge, radicals, hybridisation, aromaticity,
    # ring membership, chirality
    "canonical": ["element", "degree", "implicit_h", "total_h", "formal_charge",
                  "radical_electrons", "hybridization", "aromatic", "in_ring", "chirality"],
    "compact": ["element_compact", "total_degree", "formal_charge", "total_h", "aromatic", "in_ring"],
    # the layout of chemprop 2's default atom features (72 values)
    "chemprop": ["element_chemprop", "total_degree", "formal_charge", "chirality_chemprop", "total_h",
                 "hybridization_chemprop", "aromatic", "mass"],
}
BOND_PRESETS = {
    "canonical": ["bond_type", "conjugated", "in_ring", "stereo"],
    "compact": ["bond_type", "conjugated", "in_ring"],
    "chemprop": ["bond_type", "conjugated", "in_ring", "stereo"],
}


class Featurizer:
    """Encodes atoms (or bonds) as float32 rows from a list of feature names.

    ``size`` is the row length: the sum of one-hot widths (vocabulary + "other" slot) and one per
    scalar feature; ``slices`` maps each name to its columns."""

    table: dict[str, Feature]
    presets: dict[str, list[str]]
    kind: str

    def __init__(self, names: str | Sequence[str]):
        table, kind = self.table, self.kind
        if isinstance(names, str):
            if names not in self.presets:
                raise ValueError(f"unknown {kind} preset {names!r}; expected one of {', '.join(self.presets)}")
            names = self.presets[names]
        names = list(names)
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ValueError(f"unknown {kind} feature(s) {unknown}; available: {', '.join(table)}")
        if not names:
            raise ValueError(f"at least one {kind} feature is needed")
        self.names = names
        self.features = [table[n] for n in names]
        offsets = np.cumsum([0] + [f.size for f in self.features])
        self.slices = {n: slice(int(a), int(b)) for n, a, b in zip(names, offsets[:-1], offsets[1:])}
        self.size = int(offsets[-1])
        # sorted vocabulary + positions for a vectorised lookup
        self._lookup = []
        for f in self.features:
            if f.vocab is None:
                self._lookup.append(None)
            else:
                order = np.argsort(f.vocab)
                self._lookup.append((np.asarray(f.vocab)[order], order))

    def __repr__(self):
        return f"{type(self).__name__}({self.names}, size={self.size})"

    def spec(self) -> dict:
        return {"names": self.names, "size": self.size}

    def encode(self, column: Callable[[str], np.ndarray], n: int) -> np.ndarray:
        """``n`` rows from ``column(name)``, the values of a column for the ``n`` items."""
        out = np.zeros((n, self.size), dtype=np.float32)
        if n == 0:
            return out
        rows = np.arange(n)
        for f, lookup, name in zip(self.features, self._lookup, self.names):
            start = self.slices[name].start
            values = np.asarray(column(f.column), dtype=np.int64 if lookup is not None else np.float64)
            if lookup is None:
                out[:, start] = values * f.scale
                continue
            vocab, pos = lookup
            p = np.minimum(np.searchsorted(vocab, values), len(vocab) - 1)
            hit = vocab[p] == values
            if f.other:
                out[rows, start + np.where(hit, pos[p], len(vocab))] = 1.0
            else:
                out[rows[hit], start + pos[p[hit]]] = 1.0
        return out


class AtomFeaturizer(Featurizer):
    """Atom features by name or preset (``canonical``, ``compact``, ``chemprop``); see
    :data:`ATOM_FEATURES`. Sizes: canonical 85, compact 31, chemprop 72."""

    table, presets, kind = ATOM_FEATURES, ATOM_PRESETS, "atom"

    def __init__(self, features: str | Sequence[str] = "canonical"):
        super().__init__(features)


class BondFeaturizer(Featurizer):
    """Bond features by name or preset (``canonical``/``chemprop`` 14, ``compact`` 7); see
    :data:`BOND_FEATURES`."""

    table, presets, kind = BOND_FEATURES, BOND_PRESETS, "bond"

    def __init__(self, features: str | Sequence[str] = "canonical"):
        super().__init__(features)
