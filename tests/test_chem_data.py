"""Molecule CSV datasets (missing labels, invalid rows) and splits."""
import numpy as np
import pytest
import torch

from graphsci.chem import (load_csv, random_split, scaffold, scaffold_split, split,
                           stratified_split)
from conftest import SHARED_DATA

MOL = f"{SHARED_DATA}/molecules"


def test_csv_with_an_invalid_row_and_missing_labels(tmp_path):
    p = tmp_path / "mols.csv"
    p.write_text("name,SMILES,a,b\nx,CCO,1.0,\ny,C1CC,2.0,3.0\nz,c1ccccc1,,4.0\n")
    ds = load_csv(p, target_cols=["a", "b"], progress=False)
    assert len(ds) == 2 and ds.rows.tolist() == [0, 2] and ds.smiles == ["CCO", "c1ccccc1"]
    assert len(ds.invalid) == 1
    bad = ds.invalid[0]
    assert bad.row == 1 and bad.smiles == "C1CC" and "unclosed ring" in bad.reason
    y = ds.y
    assert y.shape == (2, 2) and torch.isnan(y[0, 1]) and torch.isnan(y[1, 0]) and y[1, 1] == 4.0


def test_csv_errors(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("smiles,v\nCCO,1\nCC,oops\n")
    with pytest.raises(ValueError, match="non-numeric value 'oops' at row 1"):
        load_csv(p, target_cols=["v"], progress=False)
    with pytest.raises(ValueError, match="not in"):
        load_csv(p, target_cols=["w"], progress=False)
    with pytest.raises(ValueError, match="column 'mol' not in"):
        load_csv(p, smiles_col="mol", progress=False)
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "none.csv")
    (tmp_path / "nosmiles.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no SMILES column"):
        load_csv(tmp_path / "nosmiles.csv")


def test_gzipped_csv_and_real_tox21_slice():
    ds = load_csv(f"{MOL}/tox21.csv", progress=False)
    assert len(ds.target_names) == 12 and len(ds) + len(ds.invalid) == 7831
    assert 0 < len(ds.invalid) <= 8  # the SMILES current RDKit rejects, reported not fatal
    assert float(torch.isnan(ds.y).float().mean()) == pytest.approx(0.171, abs=0.01)


def test_gz_csv(tmp_path):
    import gzip
    with gzip.open(tmp_path / "m.csv.gz", "wt") as fh:
        fh.write("smiles,y\nCCO,1\nCCN,0\n")
    assert len(load_csv(tmp_path / "m.csv.gz", progress=False)) == 2


def test_random_split_partitions():
    tr, va, te = random_split(100, (0.8, 0.1, 0.1), seed=1)
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    assert not np.array_equal(tr, random_split(100, seed=2)[0])
    with pytest.raises(ValueError, match="fractions"):
        random_split(10, (0.5, 0.5, 0.5))


def test_scaffold_split_is_deterministic_and_disjoint():
    import pandas as pd
    smiles = pd.read_csv(f"{MOL}/bbbp.csv")["smiles"].tolist()[:400]
    from rdkit import Chem
    smiles = [s for s in smiles if Chem.MolFromSmiles(s) is not None]
    a = scaffold_split(smiles)
    b = scaffold_split(list(smiles))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    scaf = [set(scaffold(smiles[i]) for i in part) for part in a]
    assert not (scaf[0] & scaf[1]) and not (scaf[0] & scaf[2]) and not (scaf[1] & scaf[2])
    assert sum(len(p) for p in a) == len(smiles)
    assert len(a[0]) <= round(0.8 * len(smiles))
    assert scaffold("CCO") == "" and scaffold("c1ccccc1CC") == "c1ccccc1"


def test_stratified_split_keeps_class_balance():
    y = np.array([1] * 80 + [0] * 20 + [np.nan] * 3)
    tr, va, te = stratified_split(y, seed=0)
    assert len(tr) + len(va) + len(te) == 103
    assert (y[va] == 1).sum() == 8 and (y[va] == 0).sum() == 2
    assert set(np.flatnonzero(np.isnan(y))) <= set(tr)


def test_dataset_split_subsets():
    ds = load_csv(f"{MOL}/esol_delaney.csv", progress=False)
    tr, va, te = split(ds, "scaffold")
    assert len(tr) + len(va) + len(te) == len(ds)
    assert {scaffold(s) for s in tr.smiles}.isdisjoint({scaffold(s) for s in te.smiles})
    with pytest.raises(ValueError, match="unknown split"):
        split(ds, "temporal")
