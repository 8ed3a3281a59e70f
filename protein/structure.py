"""Protein structures from PDB / mmCIF files (Biopython) as compact per-residue arrays."""
from __future__ import annotations

import gzip
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

AMINO_ACIDS = ("ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
               "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL")
ONE_LETTER = "ARNDCQEGHILKMFPSTWYV"
UNKNOWN = len(AMINO_ACIDS)  # residue-type index of anything else
_INDEX = {name: i for i, name in enumerate(AMINO_ACIDS)}
_INDEX.update({c: i for i, c in enumerate(ONE_LETTER)})

# Common modified residues -> the standard residue they derive from (PDB chemical component
# dictionary parents). Kept as protein residues, typed as the parent.
MODIFIED = {
    "MSE": "MET", "SEP": "SER", "TPO": "THR", "PTR": "TYR", "HYP": "PRO", "MLY": "LYS",
    "M3L": "LYS", "KCX": "LYS", "LLP": "LYS", "CSO": "CYS", "CSD": "CYS", "CME": "CYS",
    "CSS": "CYS", "YCM": "CYS", "SMC": "CYS", "OCS": "CYS", "CAS": "CYS", "NLE": "LEU",
    "ABA": "ALA", "AIB": "ALA", "DAL": "ALA", "IIL": "ILE", "DLE": "LEU", "DVA": "VAL",
    "SAR": "GLY", "PCA": "GLN", "FME": "MET", "HIC": "HIS", "MEN": "ASN", "TYS": "TYR",
    "SEC": "CYS", "PYL": "LYS", "ASX": "ASN", "GLX": "GLN",
}
_NUCLEIC = {"A", "C", "G", "U", "T", "I", "DA", "DC", "DG", "DT", "DU", "DI", "N", "DN"}
_WATER = {"HOH", "WAT", "DOD", "H2O"}


class StructureError(ValueError):
    """A structure file that cannot be read as a protein (the message names the file)."""


@dataclass(frozen=True)
class Structure:
    """Residues of a protein in chain order.

    ``backbone`` is ``(n, 3, 3)`` float64: the N, CA and C coordinates of each residue (NaN
    where an atom is missing; CA always present). ``cb`` is ``(n, 3)`` (NaN for glycine or a
    missing atom). ``residue_type`` indexes :data:`AMINO_ACIDS` (20 = unknown / hetero);
    ``resname`` keeps the name as it appeared in the file (modified residues included).
    """

    name: str
    backbone: np.ndarray
    cb: np.ndarray
    residue_type: np.ndarray
    resname: np.ndarray
    chain_id: np.ndarray
    resseq: np.ndarray
    icode: np.ndarray
    hetero: np.ndarray = field(default=None)

    def __post_init__(self):
        n = len(self.backbone)
        if self.hetero is None:
            object.__setattr__(self, "hetero", np.zeros(n, dtype=bool))
        for attr in ("cb", "residue_type", "resname", "chain_id", "resseq", "icode", "hetero"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"Structure.{attr} has {len(getattr(self, attr))} rows for {n} residues")

    def __len__(self) -> int:
        return len(self.backbone)

    @property
    def ca(self) -> np.ndarray:
        return self.backbone[:, 1]

    @property
    def chain_index(self) -> np.ndarray:
        """Chain of each residue as 0, 1, ... in order of first appearance."""
        _, first, inverse = np.unique(self.chain_id, return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))
        return rank[inverse].astype(np.int64)

    @property
    def chains(self) -> list[str]:
        return list(dict.fromkeys(self.chain_id.tolist()))

    def sequence(self, chain: str | None = None) -> str:
        """One-letter sequence (X for unknown residues) of one chain or of all chains joined."""
        keep = slice(None) if chain is None else self.chain_id == chain
        return "".join(ONE_LETTER[t] if t < UNKNOWN else "X" for t in self.residue_type[keep])

    def select(self, chains) -> "Structure":
        """The residues of the given chain ids, in the original order."""
        chains = [chains] if isinstance(chains, str) else list(chains)
        missing = sorted(set(chains) - set(self.chain_id.tolist()))
        if missing:
            raise StructureError(f"{self.name}: no chain {', '.join(missing)} "
                                 f"(chains: {', '.join(self.chains)})")
        keep = np.isin(self.chain_id, chains)
        return Structure(self.name, *(getattr(self, a)[keep] for a in
                                      ("backbone", "cb", "residue_type", "resname", "chain_id",
                                       "resseq", "icode", "hetero")))

    @classmethod
    def from_coordinates(cls, ca, residue_names=None, chain_ids=None, name: str = "coordinates",
                         backbone=None) -> "Structure":
        """A structure from a table of Calpha coordinates (``(n, 3)``), optional residue names
        (three- or one-letter; unknown -> X) and chain ids; ``backbone`` may give ``(n, 3, 3)``
        N/CA/C coordinates instead."""
        ca = np.asarray(ca, dtype=np.float64)
        if backbone is not None:
            backbone = np.array(backbone, dtype=np.float64)
            ca = backbone[:, 1]
        if ca.ndim != 2 or ca.shape[1] != 3:
            raise ValueError(f"Calpha coordinates must have shape (n, 3), got {ca.shape}")
        if not np.isfinite(ca).all():
            bad = np.flatnonzero(~np.isfinite(ca).all(1))
            raise ValueError(f"{name}: Calpha coordinates of rows {bad[:5].tolist()} are not finite")
        n = len(ca)
        if backbone is None:
            backbone = np.full((n, 3, 3), np.nan)
            backbone[:, 1] = ca
        names = np.asarray(["UNK"] * n if residue_names is None else list(residue_names), dtype=object)
        if len(names) != n:
            raise ValueError(f"{len(names)} residue names for {n} coordinates")
        types = np.array([_INDEX.get(MODIFIED.get(str(r).upper(), str(r).upper()), UNKNOWN)
                          for r in names], dtype=np.int64)
        chain = np.asarray(["A"] * n if chain_ids is None else list(chain_ids)).astype(str)
        if len(chain) != n:
            raise ValueError(f"{len(chain)} chain ids for {n} coordinates")
        return cls(name, backbone, np.full((n, 3), np.nan), types, names.astype(str), chain,
                   np.arange(1, n + 1, dtype=np.int64), np.full(n, "", dtype=object).astype(str))


def _open_text(path: Path):
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise StructureError(f"{path}: not a readable gzip file ({exc})") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".pdb", ".ent"):
        return "pdb"
    if ext in (".cif", ".mmcif"):
        return "cif"
    raise StructureError(f"{path}: unknown structure format {ext or '(no extension)'}; "
                         "expected .pdb, .ent, .cif or .mmcif (optionally .gz)")


def _check_pdb_text(path: Path, text: str) -> None:
    """Biopython reads a PDB file cut mid-record as if it simply ended; the cut shows as a last
    coordinate record too short to hold its coordinates, or as a bare start of "ATOM" /
    "HETATM" when it falls inside the record name. (A cut exactly at a line end cannot be told
    from a file that ends without END.)"""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise StructureError(f"{path}: empty file")
    last = lines[-1]
    name = last.rstrip()
    cut_in_name = len(name) < 6 and ("ATOM".startswith(name) or "HETATM".startswith(name))
    if cut_in_name or (last.startswith(("ATOM", "HETATM")) and len(name) < 54):
        raise StructureError(f"{path}: truncated (the last record ends before its coordinates: {last.strip()!r})")


def _parse(path: Path, text: str, fmt: str):
    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionException

    parser = PDBParser(QUIET=True) if fmt == "pdb" else MMCIFParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return parser.get_structure(path.stem.split(".")[0], io.StringIO(text))
    except (PDBConstructionException, ValueError, KeyError, IndexError, TypeError) as exc:
        raise StructureError(f"{path}: cannot be parsed as {'PDB' if fmt == 'pdb' else 'mmCIF'} "
                             f"({type(exc).__name__}: {exc})") from exc


def _coords(residue, atom_name):
    atom = residue[atom_name] if atom_name in residue else None
    return atom.coord.astype(np.float64) if atom is not None else np.full(3, np.nan)


def load_structure(path: str | os.PathLike, chains=None, keep_hetero: bool = False,
                   keep_water: bool = False) -> Structure:
    """Reads the first model of a .pdb / .ent / .cif / .mmcif file (or its .gz).

    Alternate locations resolve to the highest occupancy (Biopython's choice), insertion codes
    are kept, modified residues (:data:`MODIFIED`) count as their parent amino acid, and
    residues without a Calpha are skipped with a warning. Waters and other hetero groups are
    dropped unless ``keep_water`` / ``keep_hetero``; kept groups become unknown-type residues
    placed at their atoms' centroid. ``chains`` selects chain ids. An empty, truncated,
    non-protein or unparseable file raises :class:`StructureError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such file")
    fmt = _format(path)
    text = _open_text(path)
    if not text.strip():
        raise StructureError(f"{path}: empty file")
    if fmt == "pdb":
        _check_pdb_text(path, text)
    structure = _parse(path, text, fmt)
    models = list(structure)
    if not models:
        raise StructureError(f"{path}: no atoms (no model in the file)")
    _check_coordinates(path, models[0])
    rows, skipped, nucleic = [], 0, 0
    for chain in models[0]:
        if chains is not None and chain.id not in chains:
            continue
        for res in chain:
            flag, resseq, icode = res.id
            name = res.get_resname().strip().upper()
            if name in _WATER or flag == "W":
                if keep_water:
                    rows.append(_group_row(res, chain.id, name))
                continue
            parent = name if name in _INDEX and len(name) == 3 else MODIFIED.get(name)
            if name in _NUCLEIC:
                nucleic += 1
                continue
            polymer = parent is not None or ("N" in res and "CA" in res and "C" in res)
            if flag.startswith("H") and not polymer:
                if keep_hetero:
                    rows.append(_group_row(res, chain.id, name))
                continue
            if "CA" not in res:
                skipped += 1
                continue
            rows.append((np.stack([_coords(res, "N"), _coords(res, "CA"), _coords(res, "C")]),
                         _coords(res, "CB"), _INDEX.get(parent, UNKNOWN) if parent else UNKNOWN,
                         name, chain.id, resseq, icode.strip(), False))
    if skipped:
        warnings.warn(f"{path.name}: skipped {skipped} residue(s) without a CA atom", stacklevel=2)
    if not any(not r[-1] for r in rows):
        what = (f"only nucleic-acid residues ({nucleic})" if nucleic else "no amino-acid residues with a CA atom")
        sel = f" in chain(s) {', '.join(chains)}" if chains is not None else ""
        raise StructureError(f"{path}: not a protein structure: {what}{sel}")
    cols = list(zip(*rows))
    return Structure(path.name, np.stack(cols[0]), np.stack(cols[1]), np.asarray(cols[2], dtype=np.int64),
                     np.asarray(cols[3]).astype(str), np.asarray(cols[4]).astype(str),
                     np.asarray(cols[5], dtype=np.int64), np.asarray(cols[6]).astype(str),
                     np.asarray(cols[7], dtype=bool))


def _check_coordinates(path: Path, model) -> None:
    """Biopython reads "nan" and "inf" as numbers, and NaN here marks a missing atom, so a
    non-finite coordinate in the file would pass for one and the structure would be predicted on."""
    for atom in model.get_atoms():
        if not np.isfinite(atom.coord).all():
            chain, (_, resseq, icode) = atom.get_parent().get_parent().id, atom.get_parent().id
            raise StructureError(f"{path}: atom {atom.get_id()} of residue {resseq}{icode.strip()} in chain "
                                 f"{chain} has a non-finite coordinate {atom.coord.tolist()}")


def _group_row(res, chain_id, name):
    centre = np.mean([a.coord for a in res.get_atoms()], axis=0).astype(np.float64)
    bb = np.full((3, 3), np.nan)
    bb[1] = centre
    flag, resseq, icode = res.id
    return (bb, np.full(3, np.nan), UNKNOWN, name, chain_id, resseq, icode.strip(), True)


STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".ent.gz", ".cif.gz", ".mmcif.gz")


def is_structure_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(STRUCTURE_SUFFIXES)


def structure_files(folder: str | os.PathLike) -> list[Path]:
    """Structure files directly inside a folder, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_structure_file(p))
