"""The installed ``graphsci`` command, run in subprocesses as users run it."""
import gzip
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from conftest import SHARED_DATA

EXE = str(Path(sys.executable).with_name("graphsci"))
ESOL = Path(SHARED_DATA) / "molecules" / "esol_delaney.csv"


def run(*args, cwd=None, env=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_help_and_zoo_list_are_fast_and_do_not_import_torch():
    for args in (["--help"], ["zoo", "list"]):
        best = min(_timed(args) for _ in range(3))
        assert best < 1.0, f"graphsci {' '.join(args)} took {best:.2f} s"
    probe = subprocess.run([sys.executable, "-c", "import sys; from graphsci.cli import main; "
                            "main(['zoo', 'list']); print('torch' in sys.modules)"],
                           capture_output=True, text=True)
    assert probe.stdout.strip().endswith("False")


def _timed(args):
    t0 = time.perf_counter()
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    return time.perf_counter() - t0


def test_version_and_help_examples():
    assert run("--version").stdout.startswith("graphsci ")
    assert "graphsci predict esol" in run("--help").stdout


def test_zoo_list_info_and_unknown_name():
    listing = run("zoo", "list").stdout
    assert "esol" in listing and "bundled" in listing
    assert '"log_solubility"' in run("zoo", "info", "esol").stdout
    proc = run("zoo", "pull", "esoll")
    assert proc.returncode == 2 and "did you mean esol" in proc.stderr


@pytest.fixture
def messy_csv(tmp_path):
    df = pd.read_csv(ESOL).head(8)
    df.loc[2, "smiles"] = "C1CC(not a molecule"
    df.loc[5, "smiles"] = ""
    path = tmp_path / "in.csv"
    df.to_csv(path, index=False)
    return path, df


def test_predict_keeps_every_row_in_order_with_errors(messy_csv, tmp_path):
    path, df = messy_csv
    proc = run("predict", "esol", path, "-o", tmp_path / "out.csv", "--batch-size", 3)
    assert proc.returncode == 0, proc.stderr
    assert "8 rows read, 6 predicted, 2 invalid" in proc.stderr
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == ["smiles", "logp", "log_solubility (log10(mol/L))", "log_solubility_std", "error"]
    assert out["smiles"].tolist() == df["smiles"].fillna("").tolist()
    assert out["logp"].astype(float).tolist() == df["logp"].tolist()
    bad = out["error"] != ""
    assert bad.tolist() == [i in (2, 5) for i in range(8)]
    assert "not a molecule" in out["error"][2] and "empty" in out["error"][5]
    assert (out.loc[bad, "log_solubility (log10(mol/L))"] == "").all()
    assert (out.loc[~bad, "log_solubility (log10(mol/L))"].astype(float) < 3).all()


def test_predict_strict_stops_at_an_invalid_row(messy_csv):
    proc = run("predict", "esol", messy_csv[0], "--strict")
    assert proc.returncode == 1 and "row 3" in proc.stderr


def test_output_is_written_only_by_a_run_that_succeeds(messy_csv, tmp_path):
    path, df = messy_csv
    # the output may be the input: it used to be emptied before it was read
    proc = run("predict", "esol", path, "-o", path, "--batch-size", 3)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(path, keep_default_na=False)
    assert len(out) == 8 and out["logp"].astype(float).tolist() == df["logp"].tolist()
    assert "log_solubility_std" in out.columns
    before = path.read_bytes()
    assert run("predict", "esol", path, "-o", path, "--strict").returncode == 1
    assert path.read_bytes() == before           # a stopped run leaves the file as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]          # no .part left
    proc = run("predict", "esol", path, "-o", tmp_path)
    assert proc.returncode == 2 and "it is a folder" in proc.stderr


def test_predict_to_stdout_without_uncertainty():
    proc = run("predict", "esol", ESOL, "--no-uncertainty", "--smiles-col", "smiles")
    assert proc.returncode == 0
    out = pd.read_csv(io.StringIO(proc.stdout))
    assert len(out) == len(pd.read_csv(ESOL)) and "log_solubility_std" not in out.columns


def test_first_smiles_reads_what_the_chunked_reader_reads(tmp_path):
    from graphsci.cli.molecules import chunks, first_smiles

    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "SMILES": ["CCO", '"C,C"', "", "c1ccccc1"]})
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_csv(tmp_path / "t.tsv.gz", index=False, sep="\t")
    (tmp_path / "t.smi").write_text("# comment\nCCO ethanol\n\nc1ccccc1 benzene\n")
    # a spreadsheet's CSV where the decimal separator is a comma
    (tmp_path / "semi.csv").write_text("SMILES;logS\nCCO;0,5\nc1ccccc1;-1,6\n")
    for name, col in (("t.csv", None), ("t.tsv.gz", "SMILES"), ("t.smi", None), ("semi.csv", None)):
        path = tmp_path / name
        assert first_smiles(path, col, 3) == next(chunks(path, col, 3))[1]
    assert next(chunks(tmp_path / "semi.csv", None, 3))[0]["logS"].tolist() == ["0,5", "-1,6"]
    assert first_smiles(tmp_path / "t.csv", "nope", 3) is None
    assert first_smiles(tmp_path / "missing.csv", None, 3) is None


def test_predict_large_input_starts_featurising_before_the_model_loads(tmp_path):
    # Over 64 kB: the first chunk is featurised in worker processes while torch loads; the
    # rows must come out exactly as without workers, --head included.
    esol = pd.read_csv(ESOL)[["smiles"]]
    big = pd.concat([esol, pd.DataFrame({"smiles": ["not a molecule", ""]}), esol, esol], ignore_index=True)
    path = tmp_path / "big.csv"
    big.to_csv(path, index=False)
    assert path.stat().st_size > 64_000
    outs = {}
    for jobs in ("0", "1"):
        proc = run("predict", "esol", path, "-o", tmp_path / f"out{jobs}.csv", "--jobs", jobs)
        assert proc.returncode == 0, proc.stderr
        outs[jobs] = pd.read_csv(tmp_path / f"out{jobs}.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(outs["0"], outs["1"])
    assert len(outs["0"]) == len(big) and (outs["0"]["error"] != "").sum() == 2
    proc = run("predict", "esol", path, "--head", "1130", "--batch-size", "700")
    out = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False)
    assert proc.returncode == 0 and len(out) == 1130 and (out["error"] != "").sum() == 2
    assert run("predict", "esol", path, "--jobs", "-1").returncode == 2


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"), ("column", "no column 'smi'"), ("suffix", "unknown input type"),
    ("binary", "cannot be read"), ("guess", "no column named like SMILES (columns: mol, y); name the SMILES column "
                                            "with --smiles-col")])
def test_unreadable_input_exits_2(tmp_path, case, message):
    args = {"missing": [tmp_path / "nope.csv"], "column": [ESOL, "--smiles-col", "smi"],
            "suffix": [tmp_path / "x.xlsx"], "binary": [tmp_path / "x.csv.gz"], "guess": [tmp_path / "m.csv"]}[case]
    (tmp_path / "m.csv").write_text("mol,y\nCCO,1\n")
    (tmp_path / "x.xlsx").write_text("x")
    (tmp_path / "x.csv.gz").write_bytes(b"not gzip at all")
    proc = run("predict", "esol", *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_predict_smi_gz_and_sdf(tmp_path):
    smi = tmp_path / "in.smi.gz"
    with gzip.open(smi, "wt") as fh:
        fh.write("# a comment\nCCO ethanol\nc1ccccc1 benzene\nXX bad\n")
    out = pd.read_csv(io.StringIO(run("predict", "esol", smi).stdout), keep_default_na=False)
    assert out["name"].tolist() == ["ethanol", "benzene", "bad"] and out["error"][2] != ""

    sdf = tmp_path / "in.sdf"
    writer = Chem.SDWriter(str(sdf))
    for name, s in (("ethanol", "CCO"), ("benzene", "c1ccccc1")):
        mol = Chem.MolFromSmiles(s)
        mol.SetProp("_Name", name)
        mol.SetProp("source", "test")
        writer.write(mol)
    writer.close()
    text = sdf.read_text()
    broken = text.replace("$$$$\n", "$$$$\nbroken\n  nonsense\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"
                          "    0.0    0.0    0.0 Qq  0  0\nM  END\n$$$$\n", 1)
    sdf.write_text(broken)
    proc = run("predict", "esol", sdf)
    out = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False)
    assert out["name"].tolist()[0] == "ethanol" and out["name"].tolist()[-1] == "benzene"
    assert len(out) == 3 and out["error"][1].startswith("SDF record 2 (broken): Atom line too short")
    assert out["name"][1] == "broken" and out["source"][0] == "test"
    # Data items come back as the file spells them (an id 007 stays 007), also when the first
    # record, which sets the columns, is rejected.
    first_bad = "bad\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n> <id>\n007\n\n$$$$\n"
    sdf.write_text(first_bad + text.replace("test", "0.50"))
    out = pd.read_csv(io.StringIO(run("predict", "esol", sdf).stdout), dtype=str, keep_default_na=False)
    assert list(out.columns[:4]) == ["record", "name", "id", "log_solubility (log10(mol/L))"]
    assert out["id"].tolist() == ["007", "", ""] and out["name"].tolist() == ["bad", "ethanol", "benzene"]
    assert out["error"][0].startswith("SDF record 1 (bad): ") and out["error"][1:].tolist() == ["", ""]


def test_predict_several_files_in_order_with_a_file_column(tmp_path):
    (tmp_path / "a.smi").write_text("CCO ethanol\nXX bad\n")
    with gzip.open(tmp_path / "b.smi.gz", "wt") as fh:
        fh.write("c1ccccc1 benzene\n")
    proc = run("predict", "esol", tmp_path / "a.smi", tmp_path / "b.smi.gz", "--batch-size", 1)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False)
    assert list(out.columns[:3]) == ["file", "smiles", "name"]
    assert out["file"].tolist() == [str(tmp_path / "a.smi")] * 2 + [str(tmp_path / "b.smi.gz")]
    assert out["name"].tolist() == ["ethanol", "bad", "benzene"] and out["error"].ne("").tolist() == [False, True, False]
    assert "3 rows read, 2 predicted, 1 invalid" in proc.stderr
    # A file that cannot be read, or whose columns differ, stops the command before any output.
    pd.DataFrame({"smiles": ["CCO"], "id": [1]}).to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "empty.smi").write_text("# nothing\n")
    for bad, message in ((tmp_path / "c.csv", "differ"), (tmp_path / "nope.smi", "no such file"),
                         (tmp_path / "empty.smi", "no molecules")):
        proc = run("predict", "esol", tmp_path / "a.smi", bad)
        assert proc.returncode == 2 and message in proc.stderr and proc.stdout == "", proc.stderr
    pd.DataFrame({"smiles": ["CCO"], "file": ["x"]}).to_csv(tmp_path / "d.csv", index=False)
    proc = run("predict", "esol", tmp_path / "d.csv", tmp_path / "d.csv")
    assert proc.returncode == 2 and "column 'file'" in proc.stderr


def test_a_table_without_rows_gives_a_header_without_rows(tmp_path):
    (tmp_path / "none.csv").write_text("smiles,id\n")
    pd.DataFrame({"smiles": ["CCO"], "id": [7]}).to_csv(tmp_path / "one.csv", index=False)
    proc = run("predict", "esol", tmp_path / "none.csv")
    assert proc.returncode == 0 and "0 rows read" in proc.stderr
    assert proc.stdout.splitlines() == ["smiles,id,log_solubility (log10(mol/L)),log_solubility_std,error"]
    out = pd.read_csv(io.StringIO(run("predict", "esol", *[tmp_path / n for n in ("none.csv", "one.csv", "none.csv")]).stdout))
    assert list(out.columns[:3]) == ["file", "smiles", "id"] and out["id"].tolist() == [7]
    proc = run("predict", "esol", tmp_path / "none.csv", "--format", "table")
    assert proc.stdout.split() == ["smiles", "id", "log_solubility", "(log10(mol/L))", "log_solubility_std", "error"]


def test_train_evaluate_predict_roundtrip(tmp_path):
    data = tmp_path / "train.csv"
    df = pd.read_csv(ESOL).head(120).rename(columns={"logp": "logS"})
    df.loc[7, "smiles"] = "not-a-smiles"
    df.to_csv(data, index=False)
    proc = run("train", data, "--target-cols", "logS", "--task", "regression", "--model", "gin",
               "--split", "random", "--epochs", 3, "--patience", 1, "--n-models", 2, "--units", "log10(mol/L)",
               "-o", tmp_path / "model")
    assert proc.returncode == 0, proc.stderr
    assert "1 of 120 rows have invalid SMILES" in proc.stderr
    assert (tmp_path / "model" / "model.safetensors").is_file()
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["params"]["patience"] == 1 and set(card["history"]["member"]) == {0, 1}
    evaluation = run("evaluate", tmp_path / "model", data)
    assert evaluation.returncode == 0 and '"rmse"' in evaluation.stdout and '"invalid": 1' in evaluation.stdout
    out = pd.read_csv(io.StringIO(run("predict", tmp_path / "model", data).stdout))
    assert "logS (log10(mol/L))" in out.columns and "logS_std" in out.columns


def test_train_with_a_wrong_column_and_a_corrupt_model(tmp_path):
    proc = run("train", ESOL, "--target-cols", "nope", "--task", "regression", "-o", tmp_path / "m")
    assert proc.returncode == 2 and "no column(s) 'nope'" in proc.stderr
    (tmp_path / "file.csv").write_text("x\n")
    proc = run("train", ESOL, "--target-cols", "logp", "--task", "regression", "-o", tmp_path / "file.csv")
    assert proc.returncode == 2 and "a saved model is a folder" in proc.stderr    # before training
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "card.json").write_text("{ not json")
    proc = run("predict", tmp_path / "broken", ESOL)
    assert proc.returncode == 2 and "card.json" in proc.stderr


@pytest.mark.parametrize("how", [["--model", "gbdt"], ["--model", "gin", "--epochs", "2", "--with-gbdt"]])
def test_train_gbdt_and_blend_then_predict_and_evaluate(tmp_path, how):
    data = tmp_path / "train.csv"
    df = pd.read_csv(ESOL).head(150)
    df.loc[9, "smiles"] = "not-a-smiles"
    df.to_csv(data, index=False)
    proc = run("train", data, "--target-cols", "logp", "--task", "regression", "--split", "random", *how,
               "-o", tmp_path / "model")
    assert proc.returncode == 0, proc.stderr
    assert '"rmse"' in proc.stdout
    out = pd.read_csv(io.StringIO(run("predict", tmp_path / "model", data).stdout), keep_default_na=False)
    assert len(out) == 150 and out["logp"][9] == "" and "not-a-smiles" in out["error"][9]
    assert out["error"][0] == "" and -15 < float(out["logp"][0]) < 5      # a log-solubility
    assert ("logp_std" in out.columns) == ("--with-gbdt" in how)    # a blend reports its models' spread
    evaluation = run("evaluate", tmp_path / "model", data)
    assert evaluation.returncode == 0 and '"invalid": 1' in evaluation.stdout


def test_undefined_test_metrics_are_null_in_the_json_the_command_prints(tmp_path):
    df = pd.read_csv(ESOL).head(40).assign(active=1.0)     # one class: ROC-AUC has no value
    df.to_csv(tmp_path / "one_class.csv", index=False)
    proc = run("train", tmp_path / "one_class.csv", "--target-cols", "active", "--task", "classification",
               "--model", "gbdt", "-o", tmp_path / "m")
    assert proc.returncode == 0 and "ROC-AUC is undefined" in proc.stderr, proc.stderr
    strict = dict(parse_constant=lambda name: pytest.fail(f"the output holds {name}"))
    assert json.loads(proc.stdout, **strict)["test"]["roc_auc"] is None
    assert json.loads((tmp_path / "m" / "card.json").read_text(), **strict)["metadata"]["test_metrics"]["roc_auc"] is None
    proc = run("evaluate", tmp_path / "m", tmp_path / "one_class.csv")
    assert proc.returncode == 0 and json.loads(proc.stdout, **strict)["roc_auc"] is None


def test_train_gbdt_rejects_ensemble_options(tmp_path):
    proc = run("train", ESOL, "--target-cols", "logp", "--task", "regression", "--model", "gbdt", "--with-gbdt",
               "-o", tmp_path / "m")
    assert proc.returncode == 2 and "--model gbdt takes none of" in proc.stderr
    proc = run("train", ESOL, "--target-cols", "logp", "--task", "regression", "--patience", 0, "-o", tmp_path / "m")
    assert proc.returncode == 2 and "--patience must be at least 1" in proc.stderr
