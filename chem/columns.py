"""Atom and bond columns of many molecules at once: the integers RDKit gives per atom (atomic
number, degree, hydrogens, charge, hybridisation, chirality, ring membership, ...) and per bond
(ends, type, conjugation, ring membership, stereo), one row per atom or bond of a list of
molecules.

The native core reads them from one ``Mol.ToBinary()`` pickle per molecule (a few microseconds)
instead of ~500 calls through RDKit's Python wrappers (a few hundred). Molecules whose pickle the
reader does not cover (query molecules, PDB residue information, a pickle format newer than the
one it was checked against), and every molecule when the native core is off
(``GRAPHSCI_NATIVE=0``) or not built, are read through RDKit's API: same values, only slower."""
from __future__ import annotations

import os
import sys
from typing import NamedTuple

import numpy as np
from rdkit import Chem, rdBase

# Column names and the RDKit call that is their definition, in the order of the native reader's
# rows (csrc/molpickle.h).
ATOM_COLUMNS = {
    "atomic_num": Chem.Atom.GetAtomicNum, "degree": Chem.Atom.GetDegree,
    "total_degree": Chem.Atom.GetTotalDegree, "implicit_h": Chem.Atom.GetNumImplicitHs,
    "total_h": Chem.Atom.GetTotalNumHs, "formal_charge": Chem.Atom.GetFormalCharge,
    "radical_electrons": Chem.Atom.GetNumRadicalElectrons, "hybridization": Chem.Atom.GetHybridization,
    "chiral_tag": Chem.Atom.GetChiralTag, "aromatic": Chem.Atom.GetIsAromatic, "in_ring": Chem.Atom.IsInRing,
    "isotope": Chem.Atom.GetIsotope,
}
BOND_COLUMNS = {
    "begin": Chem.Bond.GetBeginAtomIdx, "end": Chem.Bond.GetEndAtomIdx, "bond_type": Chem.Bond.GetBondType,
    "conjugated": Chem.Bond.GetIsConjugated, "in_ring": Chem.Bond.IsInRing, "stereo": Chem.Bond.GetStereo,
}
_ATOM_INDEX = {name: j for j, name in enumerate(ATOM_COLUMNS)}
_BOND_INDEX = {name: j for j, name in enumerate(BOND_COLUMNS)}
_NO_PROPS = Chem.PropertyPickleOptions.NoProps
_PT = Chem.GetPeriodicTable()
_WEIGHTS = np.array([_PT.GetAtomicWeight(z) for z in range(119)])
_ISOTOPE_MASS: dict[tuple[int, int], float] = {}


class MolColumns(NamedTuple):
    """Rows of all atoms (``atoms``, int32, one column per :data:`ATOM_COLUMNS` entry) and bonds
    (``bonds``, per :data:`BOND_COLUMNS`) of a list of molecules, molecule after molecule;
    ``n_atoms`` / ``n_bonds`` per molecule. Atom indices in ``begin`` / ``end`` are local to
    each molecule. ``native`` marks the molecules read from their pickle."""

    atoms: np.ndarray
    bonds: np.ndarray
    n_atoms: np.ndarray
    n_bonds: np.ndarray
    native: np.ndarray

    def atom(self, name: str) -> np.ndarray:
        """One atom column by name; ``mass`` (what ``Atom.GetMass`` gives) is derived from
        the atomic number and isotope."""
        if name == "mass":
            return atomic_mass(self.atoms[:, _ATOM_INDEX["atomic_num"]], self.atoms[:, _ATOM_INDEX["isotope"]])
        return self.atoms[:, _ATOM_INDEX[name]]

    def bond(self, name: str) -> np.ndarray:
        return self.bonds[:, _BOND_INDEX[name]]


def atomic_mass(atomic_num: np.ndarray, isotope: np.ndarray) -> np.ndarray:
    """Standard atomic weight, or the isotope's mass where one is set (as ``Atom.GetMass``)."""
    mass = _WEIGHTS[np.clip(atomic_num, 0, len(_WEIGHTS) - 1)]
    for i in np.flatnonzero(isotope):
        key = (int(atomic_num[i]), int(isotope[i]))
        if key not in _ISOTOPE_MASS:
            atom = Chem.Atom(key[0])
            atom.SetIsotope(key[1])
            _ISOTOPE_MASS[key] = atom.GetMass()
        mass[i] = _ISOTOPE_MASS[key]
    return mass


def _reader():
    """The native core's pickle reader, or None when it is off or not built. Loaded without
    graphsci's torch-facing modules, so featurisation workers stay torch-free."""
    if os.environ.get("GRAPHSCI_NATIVE", "1") == "0":
        return None
    switch = sys.modules.get("graphsci._native")
    if switch is not None and not switch.enabled():
        return None
    try:
        from graphsci import _C
    except ImportError:
        return None
    return _C if hasattr(_C, "mol_pickle_columns") else None


def _rows(getters: dict, items: list) -> np.ndarray:
    out = np.empty((len(items), len(getters)), dtype=np.int32)
    for j, get in enumerate(getters.values()):
        # RDKit enums are int subclasses, so the conversion stays in C
        out[:, j] = np.fromiter(map(get, items), dtype=np.int32, count=len(items))
    return out


def mol_columns(mols: list) -> MolColumns:
    """Atom and bond columns of ``mols`` (RDKit molecules), in one pass. ValueError for an item
    that is not a molecule or one RDKit cannot describe (not sanitized)."""
    n = len(mols)
    bad = next((i for i, m in enumerate(mols) if not isinstance(m, Chem.Mol)), None)
    if bad is not None:
        raise ValueError(f"item {bad} is not an RDKit molecule ({type(mols[bad]).__name__})")
    n_atoms = np.fromiter(map(Chem.Mol.GetNumAtoms, mols), dtype=np.int64, count=n)
    n_bonds = np.fromiter(map(Chem.Mol.GetNumBonds, mols), dtype=np.int64, count=n)
    atoms = np.zeros((int(n_atoms.sum()), len(ATOM_COLUMNS)), dtype=np.int32)
    bonds = np.zeros((int(n_bonds.sum()), len(BOND_COLUMNS)), dtype=np.int32)
    status = np.ones(n, dtype=np.int32)
    native = _reader()
    if native is not None and n:
        blobs = [m.ToBinary(_NO_PROPS) for m in mols]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, blobs), dtype=np.int64, count=n), out=offsets[1:])
        data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        native.mol_pickle_columns(data, offsets, n_atoms, n_bonds, atoms, bonds, status)
    redo = np.flatnonzero(status)
    if len(redo):
        # Molecules the reader did not cover: RDKit's own getters. One molecule at a time, since
        # a chunk's worth of RDKit wrapper objects alive at once makes the garbage collector
        # rescan them over and over.
        atom_start = (np.cumsum(n_atoms) - n_atoms).tolist()
        bond_start = (np.cumsum(n_bonds) - n_bonds).tolist()
        for i in redo.tolist():
            a0, b0 = atom_start[i], bond_start[i]
            try:
                with rdBase.BlockLogs():  # the reason goes into the error, not RDKit's log
                    atoms[a0:a0 + n_atoms[i]] = _rows(ATOM_COLUMNS, list(mols[i].GetAtoms()))
                    bonds[b0:b0 + n_bonds[i]] = _rows(BOND_COLUMNS, list(mols[i].GetBonds()))
            except RuntimeError as exc:
                reason = str(exc).strip().splitlines()[1].strip() if "\n" in str(exc).strip() else str(exc)
                raise ValueError(f"molecule {i}: RDKit cannot give its atom properties ({reason}); "
                                 "sanitize it first (Chem.SanitizeMol)") from None
    return MolColumns(atoms, bonds, n_atoms, n_bonds, status == 0)
