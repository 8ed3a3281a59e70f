"""Every notebook in notebooks/ runs top to bottom (stored without outputs) in a fresh kernel."""
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import SHARED_DATA

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_all_five_domains_have_a_notebook():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    book = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), "store notebooks without outputs"
    monkeypatch.setenv("GRAPHSCI_DATA", os.path.abspath(SHARED_DATA))
    monkeypatch.setenv("PYTHONSAFEPATH", "1")  # the installed graphsci, not the source folders
    t0 = time.perf_counter()
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    # the notebooks are meant to run in under 2 minutes on 2 cores
    assert time.perf_counter() - t0 < 300
