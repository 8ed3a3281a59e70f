"""Protein inputs for the command line: a structure file, a folder of them, or a KLIFS-style
pocket Calpha table, read in batches; a file that cannot be read becomes an error row."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd

from graphsci.cli.molecules import InputError

KLIFS_COLUMNS = ("structure.klifs_id", "residue.ix", "atom.x", "atom.y", "atom.z")


def _structure_items(path: Path, per_chain: bool):
    from graphsci.protein.structure import StructureError, is_structure_file, load_structure, structure_files

    if path.is_dir():
        files = structure_files(path)
        if not files:
            raise InputError(f"{path}: no .pdb/.cif files (or .gz) in this folder")
    elif path.is_file():
        if not is_structure_file(path):
            raise InputError(f"{path}: a protein model reads .pdb, .ent, .cif or .mmcif files (or .gz) "
                             "or a folder of them")
        files = [path]
    else:
        raise InputError(f"{path}: no such file or folder")
    for f in files:
        if not per_chain:
            yield {"structure": str(f)}, f, None
            continue
        try:
            s = load_structure(f)
        except StructureError as exc:
            yield {"structure": str(f), "chain": ""}, None, str(exc)
            continue
        for chain in s.chains:
            yield {"structure": str(f), "chain": chain}, s.select(chain), None


def _pocket_items(path: Path):
    from graphsci.protein.datasets import klifs_pocket_graph

    try:
        table = pd.read_csv(path, compression="infer")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a CSV table: {exc}") from exc
    missing = [c for c in KLIFS_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: a pocket model needs the columns {', '.join(KLIFS_COLUMNS)} "
                         f"(missing: {', '.join(missing)})")
    for sid, rows in table.groupby("structure.klifs_id", sort=False):
        label = {"structure": str(sid)}
        try:
            xyz = rows[list(KLIFS_COLUMNS[2:])].apply(pd.to_numeric, errors="raise").to_numpy(float)
            ok = pd.notna(xyz).all(1)
            yield label, klifs_pocket_graph(rows["residue.ix"].to_numpy()[ok], xyz[ok], name=str(sid)), None
        except ValueError as exc:
            yield label, None, f"pocket {sid}: {exc}"


def protein_inputs(path, kind: str, per_chain: bool, head: int | None, batch: int
                   ) -> Iterator[tuple[pd.DataFrame, list, list]]:
    """Batches of (labels frame, items to predict, read errors)."""
    path = Path(path)
    items = _pocket_items(path) if kind == "klifs_pocket_ca" else _structure_items(path, per_chain)
    labels, todo, errors = [], [], []
    for n, (label, item, error) in enumerate(items):
        if head is not None and n >= head:
            break
        labels.append(label)
        todo.append(item)
        errors.append(error)
        if len(todo) == batch:
            yield pd.DataFrame(labels), todo, errors
            labels, todo, errors = [], [], []
    if todo:
        yield pd.DataFrame(labels), todo, errors
