"""Morgan fingerprints, FingerprintGBDT and MoleculeBlend: values, scikit-learn behaviour,
save/load without pickle, bad input."""
import json

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from graphsci.chem import FingerprintGBDT, MoleculeBlend, MoleculePropertyPredictor, morgan_fingerprints
from graphsci.chem import fingerprints as fingerprints_module
from graphsci.zoo import load_pretrained
from conftest import SHARED_DATA

ESOL = pd.read_csv(f"{SHARED_DATA}/molecules/esol_delaney.csv")
TOX21 = pd.read_csv(f"{SHARED_DATA}/molecules/tox21.csv")
FAST = dict(n_estimators=300, learning_rate=0.1, num_leaves=15, progress=False)
GNN = dict(hidden=32, depth=2, ffn_hidden=32, epochs=8, batch_size=32, lr=3e-3, readout="sum", progress=False)


# ---- fingerprints ------------------------------------------------------------------------------
def test_morgan_counts_on_known_molecules():
    fp = morgan_fingerprints(["C", "CCO", "c1ccccc1"], radius=2, n_bits=2048)
    assert fp.X.shape == (3, 2048) and fp.X.dtype == np.float32 and fp.rows.tolist() == [0, 1, 2]
    # methane: one atom, one environment of radius 0
    assert fp.X[0].sum() == 1
    # benzene: six identical carbons -> one environment per radius (0, 1, 2), each counted six times
    assert sorted(fp.X[2][fp.X[2] > 0].tolist()) == [6.0, 6.0, 6.0]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    assert np.array_equal(fp.X[1], gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles("CCO")))
    bits = morgan_fingerprints(["c1ccccc1"], counts=False).X
    assert np.array_equal(bits[0], (fp.X[2] > 0).astype(np.float32))


def test_fingerprints_skip_invalid_rows_keep_order_and_agree_across_workers(monkeypatch):
    smiles = ESOL["smiles"][:23].tolist()
    smiles[4], smiles[17] = "C1CC(", ""
    one = morgan_fingerprints(smiles, n_bits=512)
    assert one.X.shape == (21, 512) and 4 not in one.rows and 17 not in one.rows
    assert "invalid SMILES 'C1CC('" in one.errors[4] and one.errors[17] == "invalid SMILES '': empty SMILES"
    monkeypatch.setattr(fingerprints_module, "FINGERPRINT_CHUNK", 5)   # several chunks over 2 workers
    two = morgan_fingerprints(smiles, n_bits=512, n_jobs=2)
    assert np.array_equal(one.X, two.X) and one.errors == two.errors
    empty = morgan_fingerprints([], n_bits=64)
    assert empty.X.shape == (0, 64) and empty.errors == []
    with pytest.raises(ValueError, match="radius"):
        morgan_fingerprints(["C"], radius=-1)
    with pytest.raises(ValueError, match="n_bits"):
        morgan_fingerprints(["C"], n_bits=0)


# ---- FingerprintGBDT ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gbdt():
    return FingerprintGBDT(**FAST).fit(ESOL["smiles"][:600], ESOL["logp"][:600])


def test_gbdt_regression_learns_and_stops_early(gbdt):
    test = ESOL[600:800]
    pred = gbdt.predict(test["smiles"])
    rmse = float(np.sqrt(np.mean((pred - test["logp"].to_numpy()) ** 2)))
    assert rmse < 1.4       # the target's own spread is about 2.1
    assert gbdt.score(test["smiles"], test["logp"]) > 0.5
    # the 10% hold-out stopped it before the last tree, and the kept model has that many trees
    assert 0 < gbdt.best_iterations_[0] < 300
    assert gbdt.boosters_[0].current_iteration() == gbdt.best_iterations_[0]
    frame = gbdt.predict_frame(["CCO", "C1CC("])
    assert frame["logp_std"].tolist()[0] == 0 and frame["error"][0] is None and "C1CC(" in frame["error"][1]
    assert np.isnan(frame["logp"][1])


def test_gbdt_classification_multitask_with_missing_labels_and_one_class_task():
    tox = TOX21[:400].copy()
    tox["always0"] = 0.0
    tasks = ["NR-AR", "SR-ARE", "always0"]
    est = FingerprintGBDT(task="classification", **FAST)
    est.fit(tox[:300], smiles_col="smiles", target_cols=tasks, eval_set=(tox[300:], None))
    assert est.boosters_[2] == 0.0 and not isinstance(est.boosters_[0], float)
    proba = est.predict_proba(tox[300:], smiles_col="smiles")
    assert list(proba.columns) == tasks and ((proba >= 0) & (proba <= 1)).all().all()
    assert (proba["always0"] == 0).all()
    assert set(np.unique(est.predict(tox["smiles"][:30]))) <= {0.0, 1.0}
    single = FingerprintGBDT(task="classification", **FAST).fit(tox["smiles"], tox["SR-ARE"])
    assert single.predict_proba(tox["smiles"][:5]).shape == (5, 2)
    # an unreadable row is left out of the ROC-AUC, not allowed to turn it into NaN
    smiles, labels = tox["smiles"][:200].tolist(), tox["SR-ARE"][:200].to_numpy()
    clean = single.score(smiles, labels)
    with pytest.warns(UserWarning, match="1 invalid SMILES left out"):
        assert single.score(smiles + ["C1CC("], np.append(labels, 1.0)) == clean
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        FingerprintGBDT(task="classification").fit(["CCO", "CC"], [0.5, 1.0])


def test_gbdt_eval_set_matches_the_benchmark_protocol():
    # no hold-out taken from the training rows when an eval_set is given
    a = FingerprintGBDT(**FAST).fit(ESOL["smiles"][:300], ESOL["logp"][:300],
                                    eval_set=(ESOL["smiles"][300:400], ESOL["logp"][300:400]))
    b = FingerprintGBDT(**FAST).fit(ESOL["smiles"][:300], ESOL["logp"][:300],
                                    eval_set=(ESOL["smiles"][300:400], ESOL["logp"][300:400]))
    assert np.array_equal(a.predict(ESOL["smiles"][400:450]), b.predict(ESOL["smiles"][400:450]))   # seeded
    c = FingerprintGBDT(**dict(FAST, seed=1)).fit(ESOL["smiles"][:300], ESOL["logp"][:300],
                                                  eval_set=(ESOL["smiles"][300:400], ESOL["logp"][300:400]))
    assert not np.array_equal(a.predict(ESOL["smiles"][400:450]), c.predict(ESOL["smiles"][400:450]))
    with pytest.raises(ValueError, match="eval_set has no valid molecules"):
        FingerprintGBDT(**FAST).fit(["CCO", "CC"], [1.0, 2.0], eval_set=(["xx"], [1.0]))


def test_gbdt_invalid_training_rows_bad_targets_and_parameters():
    df = ESOL[:80].copy()
    df.loc[df.index[3], "smiles"] = "not-a-smiles"
    with pytest.warns(UserWarning, match="1 of 80 training SMILES are invalid"):
        est = FingerprintGBDT(**FAST).fit(df, smiles_col="smiles", target_cols=["logp"])
    assert est.invalid_[0].row == 3 and est.target_names_ == ["logp"]
    with pytest.raises(ValueError, match="no valid molecules"):
        FingerprintGBDT(**FAST).fit(["xx", "yy("], [1.0, 2.0])
    half = FingerprintGBDT(**FAST)
    with pytest.raises(ValueError, match=r"target\(s\) \['b'\] have no labelled training molecules"):
        half.fit(ESOL["smiles"][:40], np.c_[ESOL["logp"][:40], np.full(40, np.nan)], target_cols=["a", "b"])
    assert not hasattr(half, "boosters_")      # no half-fitted model left behind
    with pytest.raises(ValueError, match="finite"):
        FingerprintGBDT(**FAST).fit(["CCO", "CC"], [np.inf, 1.0])
    with pytest.raises(ValueError, match="not fitted"):
        FingerprintGBDT().predict(["CCO"])
    with pytest.raises(ValueError, match="val_fraction"):
        FingerprintGBDT(val_fraction=1.0).fit(["CCO"], [1.0])
    with pytest.raises(ValueError, match="rows"):
        FingerprintGBDT().fit(["CCO", "CC"], [1.0])


def test_gbdt_clone_and_cross_val_score():
    est = FingerprintGBDT(**FAST)
    assert repr(est) == "FingerprintGBDT(learning_rate=0.1, n_estimators=300, num_leaves=15, progress=False)"
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "boosters_")
    scores = cross_val_score(est, ESOL["smiles"][:200].tolist(), ESOL["logp"][:200].to_numpy(), cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_gbdt_save_load_is_text_and_identical(gbdt, tmp_path):
    d = gbdt.save(tmp_path / "m", metadata={"dataset": "esol"})
    assert sorted(p.name for p in d.iterdir()) == ["card.json", "target0.txt"]
    assert (d / "target0.txt").read_text().startswith("tree")     # LightGBM's text format, no pickle
    card = json.loads((d / "card.json").read_text())
    assert card["format"] == "graphsci.fingerprint-gbdt" and card["metadata"] == {"dataset": "esol"}
    for loaded in (FingerprintGBDT.load(d), load_pretrained(d)):
        smiles = ESOL["smiles"][800:900]
        assert np.array_equal(gbdt.predict(smiles), loaded.predict(smiles))
        assert loaded.best_iterations_ == gbdt.best_iterations_ and loaded.target_names_ == ["logp"]


def test_gbdt_corrupt_files_are_clear_errors(gbdt, tmp_path):
    d = gbdt.save(tmp_path / "m")
    text = (d / "target0.txt").read_text()
    (d / "target0.txt").write_text(text.replace("tree", "tre", 1))
    with pytest.raises(ValueError, match="checksum"):
        FingerprintGBDT.load(d)
    # a file that matches its checksum but is not a model
    card = json.loads((d / "card.json").read_text())
    from graphsci.zoo.store import sha256
    (d / "target0.txt").write_text("not a model\n")
    card["weights"]["targets"][0]["sha256"] = sha256(d / "target0.txt")
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="not a LightGBM model"):
        FingerprintGBDT.load(d)
    card["weights"]["targets"] = []
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="0 models for 1 targets"):
        FingerprintGBDT.load(d)
    (d / "card.json").write_text("{ not json")
    with pytest.raises(ValueError, match="card.json is corrupt"):
        FingerprintGBDT.load(d)
    (d / "target0.txt").unlink()
    d2 = gbdt.save(tmp_path / "m2")
    (d2 / "target0.txt").unlink()
    with pytest.raises(ValueError, match="missing"):
        FingerprintGBDT.load(d2)


# ---- MoleculeBlend -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blend():
    est = MoleculeBlend([MoleculePropertyPredictor(n_models=2, **GNN), FingerprintGBDT(**FAST)])
    return est.fit(ESOL["smiles"][:300], ESOL["logp"][:300])


def test_blend_is_the_mean_of_its_models(blend):
    smiles = ESOL["smiles"][300:360].tolist()
    gnn, gbdt = blend.models_
    assert isinstance(gnn, MoleculePropertyPredictor) and len(gnn.models_) == 2
    assert not hasattr(blend.models[0], "models_")       # the parameters stay unfitted
    expected = (gnn.predict(smiles) + gbdt.predict(smiles)) / 2
    np.testing.assert_allclose(blend.predict(smiles), expected, rtol=1e-12)
    frame = blend.predict_frame(smiles + ["C1CC("])
    spread = np.abs(gnn.predict(smiles) - gbdt.predict(smiles)) / 2       # std of two values
    np.testing.assert_allclose(frame["logp_std"][:60], spread, rtol=1e-9)
    assert frame["error"][60] and np.isnan(frame["logp"][60])
    assert blend.ensemble_size == 2 and blend.task == "regression"
    assert blend.score(smiles, ESOL["logp"][300:360]) > 0.3


def test_blend_classification_averages_probabilities():
    tox = TOX21[:300]
    est = MoleculeBlend([MoleculePropertyPredictor(task="classification", **dict(GNN, epochs=2)),
                         FingerprintGBDT(task="classification", **FAST)])
    est.fit(tox["smiles"], tox["SR-ARE"])
    p = est.predict_proba(tox["smiles"][:20])
    a, b = (m.predict_proba(tox["smiles"][:20]) for m in est.models_)
    np.testing.assert_allclose(p, (a + b) / 2, rtol=1e-12)


def test_blend_save_load_and_tampering(blend, tmp_path):
    d = blend.save(tmp_path / "b", metadata={"dataset": "esol"})
    assert sorted(p.name for p in d.iterdir()) == ["card.json", "model0", "model1"]
    smiles = ESOL["smiles"][400:440]
    for loaded in (MoleculeBlend.load(d), load_pretrained(d)):
        a, sa = blend.predict(smiles, return_std=True)
        b, sb = loaded.predict(smiles, return_std=True)
        assert np.array_equal(a, b) and np.array_equal(sa, sb) and loaded.metadata_ == {"dataset": "esol"}
    card = json.loads((d / "model1" / "card.json").read_text())
    card["params"]["radius"] = 3
    (d / "model1" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="does not match its checksum"):
        MoleculeBlend.load(d)
    (d / "card.json").write_text(json.dumps({"format": "graphsci.molecule-blend", "card_version": 1, "params": {},
                                             "n_models": 1, "weights": {"models": []}}))
    with pytest.raises(ValueError, match="lists no models"):
        MoleculeBlend.load(d)
    d = blend.save(tmp_path / "c")
    card = json.loads((d / "card.json").read_text())
    card["n_models"] = 1                              # would silently drop model1
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="lists 2 models, n_models is 1"):
        MoleculeBlend.load(d)


def test_blend_bad_models():
    with pytest.raises(ValueError, match="non-empty list"):
        MoleculeBlend([]).fit(["CCO"], [1.0])
    with pytest.raises(ValueError, match="one task"):
        MoleculeBlend([FingerprintGBDT(), FingerprintGBDT(task="classification")]).fit(["CCO", "CC"], [1.0, 0.0])
    with pytest.raises(ValueError, match="not fitted"):
        MoleculeBlend([FingerprintGBDT()]).predict(["CCO"])
    c = clone(MoleculeBlend([FingerprintGBDT(**FAST)], n_jobs=1))
    assert c.n_jobs == 1 and isinstance(c.models[0], FingerprintGBDT)


def test_blend_from_fitted_models_without_refitting(gbdt):
    other = FingerprintGBDT(**dict(FAST, radius=1)).fit(ESOL["smiles"][:600], ESOL["logp"][:600])
    blend = MoleculeBlend.from_fitted([gbdt, other])
    assert blend.models_[0] is gbdt                   # used as they are
    smiles = ESOL["smiles"][600:640]
    np.testing.assert_allclose(blend.predict(smiles), (gbdt.predict(smiles) + other.predict(smiles)) / 2, rtol=1e-12)
    renamed = FingerprintGBDT(**FAST).fit(ESOL["smiles"][:100], ESOL["logp"][:100].rename("solubility"))
    with pytest.raises(ValueError, match="different targets"):
        MoleculeBlend.from_fitted([gbdt, renamed])
    with pytest.raises(ValueError, match="non-empty list"):
        MoleculeBlend.from_fitted([gbdt, "not a model"])
