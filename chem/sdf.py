"""SDF files (plain or gzipped), read in chunks of records with RDKit's reason for each record it
rejects. Records are split here rather than inside RDKit's streaming reader so that a rejected
record's text is at hand: its title and the reason go into the error instead of a bare "could
not be read"."""
from __future__ import annotations

import gzip
import os
from typing import Iterator, NamedTuple

from rdkit import Chem, rdBase

from graphsci.chem.encoding import rdkit_reason


class SdfRecord(NamedTuple):
    """One record: its 1-based ``number`` in the file, its ``title`` (first line), its SD data
    items as the file spells them (``data``, read from the text, so rejected records keep theirs),
    and the molecule (None when RDKit rejects it, with the reason in ``error``)."""

    number: int
    title: str
    data: dict
    mol: Chem.Mol | None
    error: str | None


def sd_data(text: str) -> dict:
    """The data items (``> <name>`` then value lines up to a blank line) after ``M  END``."""
    lines = text.split("\n")
    try:
        i = next(k for k, line in enumerate(lines) if line.startswith("M  END")) + 1
    except StopIteration:
        return {}
    items = {}
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not (line.startswith(">") and "<" in line and ">" in line[line.index("<"):]):
            continue
        name = line[line.index("<") + 1:line.index(">", line.index("<"))]
        value = []
        while i < len(lines) and lines[i].strip("\r") and not lines[i].startswith("$$$$"):
            value.append(lines[i].rstrip("\r"))
            i += 1
        items.setdefault(name, "\n".join(value))
    return items


def _parse_record(text: str, sanitize: bool = True):
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, sanitize=sanitize)
    return next(iter(supplier), None)


def _record_texts(fh) -> Iterator[str]:
    lines = []
    for line in fh:
        lines.append(line)
        if line.startswith("$$$$"):
            yield "".join(lines)
            lines = []
    if "".join(lines).strip():  # a last record without its "$$$$" line
        yield "".join(lines) + "\n$$$$\n"


def sdf_records(path: str | os.PathLike, chunk_size: int = 1000) -> Iterator[list[SdfRecord]]:
    """Lists of up to ``chunk_size`` records of an ``.sdf`` / ``.sdf.gz`` file, in file order;
    memory stays flat however long the file is."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such SDF file: {path}")
    opener = gzip.open if path.lower().endswith(".gz") else open
    number = 0
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        texts = []
        for text in _record_texts(fh):
            texts.append(text)
            if len(texts) == chunk_size:
                yield _read(texts, number)
                number, texts = number + len(texts), []
        if texts:
            yield _read(texts, number)


def _read(texts: list[str], before: int) -> list[SdfRecord]:
    supplier = Chem.SDMolSupplier()
    with rdBase.BlockLogs():
        supplier.SetData("".join(texts))
        mols = list(supplier)
    if len(mols) != len(texts):  # RDKit split the chunk differently: read record by record
        with rdBase.BlockLogs():
            mols = [_parse_record(t) for t in texts]
    records = []
    for i, (mol, text) in enumerate(zip(mols, texts)):
        title = "" if text.startswith("$$$$") else text.split("\n", 1)[0].strip()
        error = None
        if mol is None:
            where = f"SDF record {before + i + 1}" + (f" ({title})" if title else "")
            error = f"{where}: {rdkit_reason(_parse_record, text)}"
        records.append(SdfRecord(before + i + 1, title, sd_data(text), mol, error))
    return records


def read_sdf(path: str | os.PathLike) -> tuple[list, list]:
    """Molecules of an SDF file (``.sdf`` or ``.sdf.gz``) in file order: ``(mols, errors)`` with
    ``None`` and RDKit's reason for records it rejects."""
    mols, errors = [], []
    for chunk in sdf_records(path):
        mols += [r.mol for r in chunk]
        errors += [r.error for r in chunk]
    return mols, errors
