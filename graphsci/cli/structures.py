"""Protein inputs for the command line: structure files, folders of them, or KLIFS-style pocket
Calpha tables, read in batches; a structure that cannot be read becomes an error row."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd

from graphsci.cli.molecules import InputError

KLIFS_COLUMNS = ("structure.klifs_id", "residue.ix", "atom.x", "atom.y", "atom.z")


def _structure_files(paths: list[Path]) -> list[Path]:
    """Every structure file the inputs name, checked before any is read."""
    from graphsci.protein.structure import is_structure_file, structure_files

    files = []
    for path in paths:
        if path.is_dir():
            found = structure_files(path)
            if not found:
                raise InputError(f"{path}: no .pdb/.cif files (or .gz) in this folder")
            files.extend(found)
        elif path.is_file():
            if not is_structure_file(path):
                raise InputError(f"{path}: a protein model reads .pdb, .ent, .cif or .mmcif files (or .gz) "
                                 "or folders of them")
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def _structure_items(paths: list[Path], per_chain: bool):
    from graphsci.protein.structure import StructureError, load_structure

    for f in _structure_files(paths):
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


def _pocket_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, compression="infer")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a CSV table: {exc}") from exc
    missing = [c for c in KLIFS_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: a pocket model needs the columns {', '.join(KLIFS_COLUMNS)} "
                         f"(missing: {', '.join(missing)})")
    return table


def _pocket_items(paths: list[Path]):
    from graphsci.protein.datasets import klifs_pocket_graph

    # Pocket tables are small: all are read and checked before the first prediction.
    table = pd.concat([_pocket_table(p) for p in paths], ignore_index=True)
    for sid, rows in table.groupby("structure.klifs_id", sort=False):
        label = {"structure": str(sid)}
        try:
            xyz = rows[list(KLIFS_COLUMNS[2:])].apply(pd.to_numeric, errors="raise").to_numpy(float)
            ok = pd.notna(xyz).all(1)
            yield label, klifs_pocket_graph(rows["residue.ix"].to_numpy()[ok], xyz[ok], name=str(sid)), None
        except ValueError as exc:
            yield label, None, f"pocket {sid}: {exc}"


def protein_inputs(paths, kind: str, per_chain: bool, head: int | None, batch: int
                   ) -> Iterator[tuple[pd.DataFrame, list, list]]:
    """Batches of (labels frame, items to predict, read errors) over the input paths in order."""
    paths = [Path(p) for p in paths]
    items = _pocket_items(paths) if kind == "klifs_pocket_ca" else _structure_items(paths, per_chain)
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
