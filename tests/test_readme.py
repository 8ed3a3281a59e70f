"""Every Python block in README.md runs as written (from the repository root) and produces what
the README says it does."""
import math
import os
import re
from pathlib import Path

import pytest

from conftest import SHARED_DATA

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _check(ns):
    """Block-specific expectations, keyed by what the block defines."""
    if "h" in ns and "a" in ns:  # the core in five lines
        assert tuple(ns["h"].shape) == (3, 16) and tuple(ns["a"].shape) == (4, 1)
    if "trainer" in ns:  # GAT on Cora
        assert ns["trainer"].evaluate_nodes(ns["model"], ns["data"], ns["data"].test_mask, ns["x"]) > 0.75
    if "same" in ns:  # molecules
        mean, std = ns["mean"], ns["std"]
        assert mean.shape == (3,) and not math.isnan(mean[0]) and math.isnan(mean[2])
        assert std[0] >= 0 and math.isnan(std[2])  # ensemble spread; none for the invalid row
        assert (ns["same"].predict(["CCO"]) == ns["model"].predict(["CCO"])).all()
        assert ns["graph"].num_nodes == 11
        assert len(ns["curves"]) == 2 * 10 and ns["curves"]["best"].sum() == 2
    if "blend" in ns:  # GNN + fingerprint GBDT
        table = ns["table"]
        assert table["error"].iloc[:5].isna().all() and "C1CC(" in table["error"].iloc[5]
        assert table["logp"].iloc[:5].between(-12, 3).all() and (table["logp_std"].iloc[:5] > 0).all()
        assert sorted(p.name for p in Path("esol-blend").iterdir()) == ["card.json", "model0", "model1"]
    if "county" in ns:  # EBBS
        assert ns["rmse"] < 1.2
    if "pg" in ns:  # proteins
        assert ns["pg"].graph.num_nodes == 574 and ns["structure"].chains == ["A", "B", "C", "D"]
        row = ns["table"].iloc[0]
        assert row["error"] is None and 0 <= row["flap_open"] <= 1
    if "curve" in ns:  # active learning
        assert [n for n, _ in ns["curve"]] == [7, 14, 21, 28, 35] and ns["curve"][-1][1] > 0.5


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block(code, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHSCI_DATA", os.path.abspath(SHARED_DATA))
    # the README's paths are relative to the repository root; files it writes go to tmp_path
    code = code.replace("../shared/data", os.path.abspath(SHARED_DATA))
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), ns)
    _check(ns)


COMMANDS = [line for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
            for line in block.replace("\\\n", " ").splitlines() if line.startswith("graphsci ")]


def test_readme_has_commands():
    assert any(c.startswith("graphsci predict") for c in COMMANDS)


def test_readme_commands_run_in_order(tmp_path):
    """The README's graphsci commands, one after another (train before evaluate)."""
    import glob
    import shlex
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("graphsci"))
    for line in COMMANDS:
        line = line.split("  #")[0].replace("../shared/data", os.path.abspath(SHARED_DATA))
        # as bash does: a glob becomes its sorted matches, or stays as written if none match
        args = [a for word in shlex.split(line)[1:]
                for a in ((sorted(glob.glob(word)) or [word]) if glob.has_magic(word) else [word])]
        proc = subprocess.run([exe, *args], capture_output=True, text=True, cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, f"{line}\n{proc.stderr[-2000:]}"
    assert (tmp_path / "solubility.csv").is_file() and (tmp_path / "my-esol" / "card.json").is_file()
