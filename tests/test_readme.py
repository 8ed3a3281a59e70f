"""Every Python block in README.md runs as written (from the repository root)."""
import os
import re
from pathlib import Path

import pytest

from conftest import SHARED_DATA

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block(code, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHSCI_DATA", os.path.abspath(SHARED_DATA))
    # the README's paths are relative to the repository root; files it writes go to tmp_path
    code = code.replace("../shared/data", os.path.abspath(SHARED_DATA))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
