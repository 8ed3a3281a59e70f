"""Molecule inputs for the command line: chunked readers for .csv/.csv.gz/.tsv, .smi and .sdf
files. Each chunk is a DataFrame of the input's own columns plus the SMILES to predict on, so
memory stays flat however long the file is. pandas is imported when a reader runs, not with this
module: :func:`first_smiles` lets featurisation start before it loads."""
from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Iterator

MOLECULE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".smi", ".smi.gz", ".sdf", ".sdf.gz")


class InputError(ValueError):
    """The input cannot be read at all (as opposed to a row that cannot be parsed)."""


def kind(path: Path) -> str:
    name = path.name.lower()
    for suffix in MOLECULE_SUFFIXES:
        if name.endswith(suffix):
            return suffix.split(".")[1]
    raise InputError(f"{path}: unknown input type; expected one of {', '.join(MOLECULE_SUFFIXES)}")


def chunks(path: Path, smiles_col: str | None, size: int) -> Iterator[tuple]:
    """``(columns, smiles, errors)`` per chunk of ``size`` rows: ``columns`` are written back
    unchanged; ``errors`` holds a message for a record that could not even be read (else None)."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    k = kind(path)
    if k in ("csv", "tsv"):
        yield from _table_chunks(path, smiles_col, size, _delimiter(path))
    elif k == "smi":
        yield from _smi_chunks(path, size)
    else:
        yield from _sdf_chunks(path, size)


def _delimiter(path: Path) -> str:
    """Tab for .tsv; for .csv a comma, or a semicolon when the header holds semicolons and no
    comma (spreadsheets in locales with a decimal comma save CSV that way)."""
    if kind(path) == "tsv":
        return "\t"
    try:
        with _open_text(path) as fh:
            header = fh.readline()
    except (UnicodeDecodeError, EOFError, OSError):
        return ","          # the table reader reports what is wrong with the file
    return ";" if ";" in header and "," not in header else ","


def chunks_of_files(paths: list[Path], smiles_col: str | None, size: int) -> Iterator[tuple]:
    """:func:`chunks` of several files in order. Every file is opened and its columns checked
    before the first row is predicted, so a bad file is a command error, not a half-written
    output; with more than one file a first column ``file`` names each row's file."""
    if len(paths) == 1:
        yield from chunks(paths[0], smiles_col, size)
        return
    columns = {}
    for path in paths:
        reader = chunks(path, smiles_col, 1)
        first = next(reader, None)
        reader.close()
        if first is None:
            raise InputError(f"{path}: no molecules in this file")
        columns[path] = list(first[0].columns)
        if "file" in columns[path]:
            raise InputError(f"{path}: has a column 'file', the column that names each row's input "
                             "when several are given; predict it on its own")
        if columns[path] != columns[paths[0]]:
            raise InputError(f"{path}: its columns ({', '.join(columns[path])}) differ from those of "
                             f"{paths[0]} ({', '.join(columns[paths[0]])}); several inputs must have the "
                             "same columns")
    for path in paths:
        for frame, smiles, errors in chunks(path, smiles_col, size):
            frame.insert(0, "file", str(path))
            yield frame, smiles, errors


def first_smiles(path: Path, smiles_col: str | None, size: int) -> list | None:
    """The SMILES of the first ``size`` rows of a table or SMILES file, read with the csv module
    (so featurisation can start while pandas and torch load); None for SDF files and anything
    not read cleanly here (the chunked readers then report it)."""
    import csv

    from graphsci.chem.encoding import guess_smiles_column

    name = path.name.lower()
    try:
        with _open_text(path) as fh:
            if name.endswith((".smi", ".smi.gz")):
                rows = (line.split(None, 1)[0] for line in fh
                        if line.strip() and not line.lstrip().startswith("#"))
                return [smiles for smiles, _ in zip(rows, range(size))]
            if not name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
                return None
            reader = (row for row in csv.reader(fh, delimiter=_delimiter(path)) if row)
            header = next(reader)
            j = header.index(smiles_col if smiles_col is not None else guess_smiles_column(header))
            return [row[j] if j < len(row) else "" for row, _ in zip(reader, range(size))]
    except (ValueError, StopIteration, UnicodeDecodeError, EOFError, OSError, csv.Error):
        return None


def _table_chunks(path, smiles_col, size, sep):
    import pandas as pd

    from graphsci.chem.encoding import guess_smiles_column

    try:
        # Cells stay strings so the output repeats the input exactly.
        reader = pd.read_csv(path, sep=sep, chunksize=size, dtype=str, keep_default_na=False,
                             compression="infer")
        first = True
        for frame in reader:
            if first:
                try:
                    col = smiles_col if smiles_col is not None else guess_smiles_column(frame)
                except ValueError:
                    raise InputError(f"{path}: no column named like SMILES (columns: {', '.join(frame.columns)}); "
                                     "name the SMILES column with --smiles-col") from None
                if col not in frame.columns:
                    raise InputError(f"{path}: no column {col!r} (columns: {', '.join(frame.columns)}); "
                                     f"name the SMILES column with --smiles-col")
                first = False
            yield frame, frame[col].tolist(), [None] * len(frame)
        if first:
            raise InputError(f"{path}: no rows")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError,
            gzip.BadGzipFile, OSError) as exc:
        raise InputError(f"{path}: cannot be read as a table: {exc}") from exc
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: {exc}") from exc


def _open_text(path: Path):
    return gzip.open(path, "rt", newline="") if path.name.lower().endswith(".gz") else open(path, newline="")


def _smi_chunks(path, size):
    """SMILES files: one molecule per line, SMILES then an optional name; ``#`` comments."""
    import pandas as pd

    try:
        with _open_text(path) as fh:
            rows = []
            for line in fh:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                parts = line.split(None, 1)
                rows.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
                if len(rows) == size:
                    yield pd.DataFrame(rows, columns=["smiles", "name"]), [r[0] for r in rows], [None] * len(rows)
                    rows = []
            if rows:
                yield pd.DataFrame(rows, columns=["smiles", "name"]), [r[0] for r in rows], [None] * len(rows)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise InputError(f"{path}: cannot be read as a SMILES file: {exc}") from exc


def _sdf_chunks(path, size):
    """SDF records: the output keeps the record's title and SD data items as the file spells them
    (the columns are the first record's items); the SMILES is RDKit's canonical one, and a record
    RDKit rejects gets an empty SMILES (reported per row, with RDKit's reason)."""
    from rdkit import Chem

    from graphsci.chem.sdf import sdf_records

    try:
        props = None
        for chunk in sdf_records(path, size):
            rows, smiles = [], []
            for record in chunk:
                props = props if props is not None else list(record.data)
                rows.append({"record": record.number, "name": record.title,
                             **{p: record.data.get(p, "") for p in props}})
                smiles.append(Chem.MolToSmiles(record.mol) if record.mol is not None else None)
            yield _sdf_frame(rows, props), smiles, [r.error for r in chunk]
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise InputError(f"{path}: cannot be read as an SDF file: {exc}") from exc


def _sdf_frame(rows, props):
    import pandas as pd

    return pd.DataFrame(rows, columns=["record", "name", *(props or [])]).fillna("")


def write_chunk(frame, out: io.TextIOBase, header: bool, fmt: str) -> None:
    if fmt == "table" and frame.empty:
        out.write(("  ".join(map(str, frame.columns)) + "\n") if header else "")
    elif fmt == "table":
        out.write(frame.to_string(index=False, header=header, float_format=lambda v: f"{v:.3f}",
                                  na_rep="") + "\n")
    else:
        frame.to_csv(out, index=False, header=header, float_format="%.6g")
