"""MoleculePropertyPredictor: scikit-learn behaviour, ensembles, save/load, bad input."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from graphsci.chem import MoleculePropertyPredictor
from conftest import SHARED_DATA

ESOL = pd.read_csv(f"{SHARED_DATA}/molecules/esol_delaney.csv")
# Sum readout: at this width and number of epochs the default "norm" (sum / 100) is still far
# from converged (test RMSE 1.84 against 1.25 with the sum).
SMALL = dict(hidden=32, depth=2, ffn_hidden=32, epochs=15, batch_size=32, lr=3e-3, readout="sum", progress=False)


@pytest.fixture(scope="module")
def fitted():
    est = MoleculePropertyPredictor(n_models=2, **SMALL)
    return est.fit(ESOL["smiles"][:240], ESOL["logp"][:240])


def test_fit_predict_with_uncertainty(fitted):
    test = ESOL[240:300]
    mean, std = fitted.predict(test["smiles"], return_std=True)
    assert mean.shape == (60,) and std.shape == (60,) and (std >= 0).all() and (std > 0).any()
    rmse = float(np.sqrt(np.mean((mean - test["logp"].to_numpy()) ** 2)))
    assert rmse < 1.8  # a learnt model: the target's own spread is about 2.1
    assert fitted.score(test["smiles"], test["logp"]) > 0.2


def test_dataframe_in_and_out_with_invalid_row(fitted):
    df = pd.DataFrame({"SMILES": ["CCO", "C1CC", "c1ccccc1"], "id": [7, 8, 9]}, index=[10, 11, 12])
    with pytest.warns(UserWarning, match="1 invalid SMILES"):
        out = fitted.predict(df)
    assert list(out.index) == [10, 11, 12] and list(out.columns) == fitted.target_names_
    assert np.isnan(out.loc[11].iloc[0]) and not np.isnan(out.loc[10].iloc[0])


def test_fit_from_dataframe_with_columns_and_invalid_training_row():
    df = ESOL[:80].copy()
    df.loc[df.index[3], "smiles"] = "not-a-smiles"
    with pytest.warns(UserWarning, match="1 of 80 training SMILES are invalid"):
        est = MoleculePropertyPredictor(**dict(SMALL, epochs=2)).fit(df, smiles_col="smiles", target_cols=["logp"])
    assert est.invalid_[0].row == 3 and est.target_names_ == ["logp"]


def test_save_load_identical_predictions(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["card.json", "model.safetensors"]
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["n_models"] == 2 and len(card["weights"]["sha256"]) == 64
    assert card["featurizer"]["atom"]["size"] == 85
    loaded = MoleculePropertyPredictor.load(tmp_path / "m")
    smiles = ESOL["smiles"][300:340]
    a, sa = fitted.predict(smiles, return_std=True)
    b, sb = loaded.predict(smiles, return_std=True)
    assert np.array_equal(a, b) and np.array_equal(sa, sb)
    # the learning curves travel with the model
    pd.testing.assert_frame_equal(loaded.history_, fitted.history_)


def test_history_has_every_epoch_of_every_member_and_marks_the_kept_one(fitted):
    h = fitted.history_
    assert list(h.columns) == ["member", "epoch", "train_loss", "val_loss", "rmse", "best"]
    assert h.groupby("member")["epoch"].apply(list).tolist() == [list(range(15))] * 2
    best = h[h["best"]]
    assert best["member"].tolist() == [0, 1]
    # the kept epoch is the one with the lowest validation RMSE
    assert best["rmse"].tolist() == h.groupby("member")["rmse"].min().tolist()
    assert h["train_loss"].notna().all() and h.groupby("member")["train_loss"].apply(lambda t: t.iloc[-1] < t.iloc[0]).all()


def test_corrupt_card_and_weights_are_clear_errors(fitted, tmp_path):
    d = fitted.save(tmp_path / "m")
    (d / "card.json").write_text("{ not json")
    with pytest.raises(ValueError, match="card.json is corrupt"):
        MoleculePropertyPredictor.load(d)
    d = fitted.save(tmp_path / "m2")
    blob = bytearray((d / "model.safetensors").read_bytes())
    blob[-5] ^= 0xFF
    (d / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="checksum"):
        MoleculePropertyPredictor.load(d)
    with pytest.raises(ValueError, match="missing"):
        MoleculePropertyPredictor.load(tmp_path / "nowhere")


# Valid JSON whose values do not fit the weights or the model: each loaded and predicted before
# (no members, a member dropped, two outputs for one target, NaN, a crash at predict time).
@pytest.mark.parametrize("field, value, message", [
    ("n_models", 0, "n_models is 0"),
    ("n_models", 1, r"holds the members \['model0', 'model1'\], its card.json names 1"),
    ("n_models", 1.5, "n_models is 1.5"),
    ("normalisation.mean", [0.0, 1.0], "2 means and 1 scales for 1 targets"),
    ("normalisation.scale", [float("nan")], "finite means and positive scales"),
    ("normalisation", None, "needs the normalisation"),
    ("targets", [], "non-empty list"),
    ("weights", None, "must be JSON objects"),
    ("featurizer.atom.size", 84, "saved with the featurizers"),
])
def test_card_values_that_do_not_fit_the_model_are_clear_errors(fitted, tmp_path, field, value, message):
    d = fitted.save(tmp_path / "m")
    card = json.loads((d / "card.json").read_text())
    *path, last = field.split(".")
    node = card
    for key in path:
        node = node[key]
    node[last] = value
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=message):
        MoleculePropertyPredictor.load(d)


def test_classification_multitask_with_missing_labels():
    tox = pd.read_csv(f"{SHARED_DATA}/molecules/tox21.csv")[:300]
    tasks = ["NR-AR", "SR-ARE"]
    est = MoleculePropertyPredictor(task="classification", **dict(SMALL, epochs=3))
    est.fit(tox, smiles_col="smiles", target_cols=tasks)
    proba = est.predict_proba(tox[:20], smiles_col="smiles")
    assert list(proba.columns) == tasks and ((proba >= 0) & (proba <= 1)).all().all()
    labels = est.predict(tox["smiles"][:20])
    assert set(np.unique(labels)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        MoleculePropertyPredictor(task="classification", **SMALL).fit(["CCO", "CC"], [0.5, 1.0])


def test_sklearn_clone_and_cross_val_score():
    est = MoleculePropertyPredictor(**dict(SMALL, epochs=2))
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "models_")
    scores = cross_val_score(est, ESOL["smiles"][:90].tolist(), ESOL["logp"][:90].to_numpy(), cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_parameters_repr_and_no_sklearn_import_to_predict():
    import subprocess
    import sys

    est = MoleculePropertyPredictor(hidden=64)
    assert repr(est) == "MoleculePropertyPredictor(hidden=64)"
    assert est.set_params(depth=4) is est and est.get_params()["depth"] == 4
    with pytest.raises(ValueError, match="invalid parameter 'depht'"):
        est.set_params(depht=4)
    # scikit-learn (and the scipy.stats it loads, a second of start-up) only when its tools are used
    code = ("import sys; from graphsci.zoo import load_pretrained; m = load_pretrained('esol'); "
            "m.predict(['CCO']); print('sklearn' in sys.modules, 'scipy.stats' in sys.modules)")
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.stdout.strip() == "False False", probe.stderr


def test_unfitted_and_bad_arguments():
    with pytest.raises(ValueError, match="not fitted"):
        MoleculePropertyPredictor().predict(["CCO"])
    with pytest.raises(ValueError, match="task"):
        MoleculePropertyPredictor(task="ranking").fit(["CCO"], [1.0])
    with pytest.raises(ValueError, match="rows"):
        MoleculePropertyPredictor(**SMALL).fit(["CCO", "CC"], [1.0])
    with pytest.raises(ValueError, match="single string"):
        MoleculePropertyPredictor(**SMALL).fit("CCO", [1.0])
    with pytest.raises(ValueError, match="no molecules given"):
        MoleculePropertyPredictor(**SMALL).fit([], [])
    with pytest.raises(ValueError, match=r"target\(s\) \['b'\] have no labelled training molecules"):
        MoleculePropertyPredictor(**SMALL).fit(["CCO", "CC", "CCC"], np.c_[[1.0, 2, 3], np.full(3, np.nan)],
                                               target_cols=["a", "b"])
    with pytest.raises(ValueError, match="targets must be 0, 1 or NaN: could not convert"):
        MoleculePropertyPredictor(task="classification", **SMALL).fit(["CCO", "CC"], ["yes", "no"])
    with pytest.raises(ValueError, match="targets must be numbers or NaN"):
        MoleculePropertyPredictor(**SMALL).fit(pd.DataFrame({"smiles": ["CCO"], "y": ["n/a"]}), target_cols=["y"])


def test_scoring_checks_its_labels_and_reads_rdkit_molecules(fitted):
    from rdkit import Chem

    smiles = ESOL["smiles"][300:310].tolist()
    y = ESOL["logp"][300:310].to_numpy()
    with pytest.raises(ValueError, match="y has 9 rows for 10 molecules"):
        fitted.score(smiles, y[:9])                 # was NaN
    with pytest.raises(ValueError, match="y has 9 rows for 10 molecules"):
        fitted.evaluate(smiles, y[:9])
    with pytest.raises(ValueError, match="finite numbers or NaN"):
        fitted.score(smiles, np.r_[np.inf, y[1:]])
    with pytest.raises(ValueError, match="2 target columns, the model predicts 1"):
        fitted.evaluate(smiles, np.c_[y, y])
    tox = MoleculePropertyPredictor(task="classification", **dict(SMALL, epochs=1)).fit(smiles, (y > -3) * 1.0)
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        tox.evaluate(smiles, (y > -3) * 2.0)        # was scored as if 2 were the positive class
    # RDKit molecules are read as their (canonical) SMILES, next to strings; they were NaN
    mols = [Chem.MolFromSmiles(s) for s in smiles[:3]]
    np.testing.assert_allclose(fitted.predict(mols + smiles[3:]), fitted.predict(smiles), rtol=1e-6)


def test_rdkit_descriptors_join_the_head_and_survive_save_load(tmp_path):
    data = ESOL.head(80)
    model = MoleculePropertyPredictor(mol_features="rdkit2d", **{**SMALL, "epochs": 4})
    model.fit(data["smiles"][:60], data["logp"][:60],
              eval_set=(data["smiles"][60:], data["logp"][60:]))
    assert model.models_[0].mol_dim == len(model.descriptor_scaler_.mean) > 150
    smiles = data["smiles"][60:].tolist() + ["[Na+].[Cl-]", "C"]       # odd molecules: no NaN
    before = model.predict(smiles)
    assert np.isfinite(before).all()
    loaded = MoleculePropertyPredictor.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(before, loaded.predict(smiles))
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert "MolLogP" in card["mol_features"]["names"]
    with pytest.raises(ValueError, match="unknown molecule features"):
        MoleculePropertyPredictor(mol_features="morgan").fit(data["smiles"], data["logp"])


def test_eval_set_and_evaluate():
    data = ESOL.head(90)
    model = MoleculePropertyPredictor(**SMALL).fit(
        data["smiles"][:70], data["logp"][:70], eval_set=(data["smiles"][70:], data["logp"][70:]))
    scores = model.evaluate(list(data["smiles"][70:]) + ["xx"], list(data["logp"][70:]) + [1.0])
    assert scores["invalid"] == 1 and 0 < scores["mae"] <= scores["rmse"] < 3
    frame = model.predict_frame(["CCO", "xx"])
    assert list(frame.columns) == ["logp", "logp_std", "error"]
    assert frame["error"][0] is None and "xx" in frame["error"][1]


def test_bad_patience_and_a_corrupt_history_in_the_card(fitted, tmp_path):
    with pytest.raises(ValueError, match="patience must be None or at least 1"):
        MoleculePropertyPredictor(**dict(SMALL, epochs=1, patience=0)).fit(ESOL["smiles"][:40], ESOL["logp"][:40])
    fitted.save(tmp_path / "m")
    card_path = tmp_path / "m" / "card.json"
    card = json.loads(card_path.read_text())
    card["history"]["epoch"] = card["history"]["epoch"][:3]     # ragged columns
    card_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="card.json is corrupt"):
        MoleculePropertyPredictor.load(tmp_path / "m")


def test_undefined_metrics_are_nan_with_a_reason_and_null_in_the_card(fitted, tmp_path):
    import warnings

    smiles = ESOL["smiles"][300:310].tolist()
    for labels, undefined, reason in (([np.nan] * 10, ["rmse", "mae", "r2"], "no labelled rows to score"),
                                      ([1.5] * 10, ["r2"], None)):   # equal labels: R² has no variance
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics = fitted.evaluate(smiles, labels)
        # one warning that says why, not numpy's "Mean of empty slice" / division by zero
        assert [str(w.message).split(":")[0] for w in caught] == ([reason] if reason else [])
        assert [k for k in ("rmse", "mae", "r2") if np.isnan(metrics[k])] == undefined
    fitted.save(tmp_path / "m", metadata={"test_metrics": metrics, "note": [float("inf")]})
    text = (tmp_path / "m" / "card.json").read_text()
    card = json.loads(text, parse_constant=lambda name: pytest.fail(f"card.json holds {name}"))
    assert card["metadata"]["test_metrics"]["r2"] is None and card["metadata"]["note"] == [None]
    assert MoleculePropertyPredictor.load(tmp_path / "m").predict(smiles[:2]).shape == (2,)

