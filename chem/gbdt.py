"""FingerprintGBDT: gradient-boosted trees (LightGBM) on Morgan count fingerprints. The classic
non-neural baseline of molecular property prediction, and on scaffold splits of large
bioactivity sets (HIV) a stronger one than a GNN of chemprop's size; blended with a GNN
(:class:`graphsci.chem.MoleculeBlend`) the two err differently. Saved as LightGBM's own text
model per target beside ``card.json``: no pickle."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from graphsci.chem.datasets import InvalidRow
from graphsci.chem.fingerprints import morgan_fingerprints
from graphsci.chem.outputs import MoleculeModel
from graphsci.chem.splits import random_split
from graphsci.train.saved import common_card, estimator_from_card, read_card, write_card
from graphsci.zoo.store import sha256

CARD_VERSION = 1
FORMAT = "graphsci.fingerprint-gbdt"


def _lightgbm():
    try:
        import lightgbm
    except ImportError as exc:
        raise ImportError("FingerprintGBDT needs LightGBM: pip install lightgbm "
                          "(or graphsci[chem])") from exc
    return lightgbm


class FingerprintGBDT(MoleculeModel):
    """LightGBM on Morgan fingerprints of SMILES, one booster per target on its labelled rows.

    Parameters
    ----------
    task : ``regression`` or ``classification`` (binary / multi-label; NaN = missing label).
    radius, n_bits, counts : the Morgan fingerprint (radius 2 ~ ECFP4; ``counts``: how often
        each hashed environment occurs rather than 0/1).
    n_estimators : the most trees; ``early_stopping_rounds`` stops when the validation metric
        (ROC-AUC, or RMSE) has not improved for that many trees, and the best tree count is kept.
    val_fraction : share of the training molecules held out for early stopping when ``fit`` has
        no ``eval_set`` (0: no early stopping, all ``n_estimators`` trees).
    learning_rate, num_leaves, subsample, colsample_bytree, min_child_samples : LightGBM's.
    n_jobs : LightGBM threads and fingerprint worker processes (<= 0: one per core).

    Fitted attributes: ``boosters_`` (a LightGBM ``Booster`` per target, or a constant for a
    classification target with one class in training), ``best_iterations_``, ``target_names_``,
    ``invalid_`` (training rows skipped for invalid SMILES).
    """

    def __init__(self, task: str = "regression", radius: int = 2, n_bits: int = 2048, counts: bool = True,
                 n_estimators: int = 2000, learning_rate: float = 0.05, num_leaves: int = 63,
                 subsample: float = 0.8, colsample_bytree: float = 0.5, min_child_samples: int = 20,
                 early_stopping_rounds: int = 100, val_fraction: float = 0.1, seed: int = 0,
                 n_jobs: int = 1, progress: bool = True):
        self.task, self.radius, self.n_bits, self.counts = task, radius, n_bits, counts
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.subsample, self.colsample_bytree, self.min_child_samples = subsample, colsample_bytree, min_child_samples
        self.early_stopping_rounds, self.val_fraction = early_stopping_rounds, val_fraction
        self.seed, self.n_jobs, self.progress = seed, n_jobs, progress

    @property
    def ensemble_size(self) -> int:
        return 1

    def _check_params(self):
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {self.task!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in [0, 1)")
        if self.n_estimators < 1 or self.early_stopping_rounds < 1:
            raise ValueError("n_estimators and early_stopping_rounds must be at least 1")
        if not (0.0 < self.subsample <= 1.0 and 0.0 < self.colsample_bytree <= 1.0):
            raise ValueError("subsample and colsample_bytree must be in (0, 1]")

    def _fingerprints(self, smiles):
        return morgan_fingerprints(smiles, self.radius, self.n_bits, self.counts, n_jobs=self.n_jobs,
                                   progress=self.progress)

    def _lgb_params(self) -> dict:
        return {"objective": "regression" if self.task == "regression" else "binary",
                "metric": "rmse" if self.task == "regression" else "auc",
                "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
                "feature_fraction": self.colsample_bytree, "min_data_in_leaf": self.min_child_samples,
                "seed": self.seed, "num_threads": max(self.n_jobs, 0), "verbose": -1}

    # ---- training ----------------------------------------------------------------------------
    def fit(self, X, y=None, smiles_col: str | None = None, target_cols=None, eval_set=None):
        """``fit(smiles, y)`` or ``fit(df, smiles_col=..., target_cols=[...])``; ``y`` is ``(n,)``
        or ``(n, tasks)`` with NaN for missing labels. ``eval_set`` — ``(X_val, y_val)`` in the
        same forms — is used for early stopping instead of a ``val_fraction`` hold-out."""
        self._check_params()
        lgb = _lightgbm()
        smiles, y, names = self._targets(X, y, smiles_col, target_cols)
        fp = self._fingerprints(smiles)
        self.invalid_ = [InvalidRow(i, smiles[i], e) for i, e in enumerate(fp.errors) if e]
        if self.invalid_:
            warnings.warn(f"{len(self.invalid_)} of {len(smiles)} training SMILES are invalid and were skipped "
                          f"(first: row {self.invalid_[0].row}: {self.invalid_[0].reason})")
        if len(fp.rows) == 0:
            raise ValueError("no valid molecules to train on")
        X_tr, y_tr = fp.X, y[fp.rows]
        X_va = y_va = None
        if eval_set is not None:
            val_smiles, y_val, val_names = self._targets(*eval_set, smiles_col, target_cols)
            if len(val_names) != len(names):
                raise ValueError(f"eval_set has {len(val_names)} targets, the training data {len(names)}")
            val_fp = self._fingerprints(val_smiles)
            if len(val_fp.rows) == 0:
                raise ValueError("eval_set has no valid molecules")
            X_va, y_va = val_fp.X, y_val[val_fp.rows]
        elif self.val_fraction > 0 and len(fp.rows) > 1:
            train, val, _ = random_split(len(fp.rows), (1 - self.val_fraction, self.val_fraction, 0.0), self.seed)
            if len(val) and len(train):
                X_tr, y_tr, X_va, y_va = X_tr[train], y_tr[train], X_tr[val], y_tr[val]
        self._require_labels(y_tr, names)
        fitted = []
        with tqdm(total=len(names), desc="boosting", unit="target", disable=(not self.progress) or None) as bar:
            for j, name in enumerate(names):
                fitted.append(self._fit_target(lgb, j, name, X_tr, y_tr, X_va, y_va, bar))
                bar.update(1)
        # set only once every target is fitted: a failed fit leaves no half model behind
        self.target_names_ = names
        self.boosters_, self.best_iterations_ = [b for b, _ in fitted], [n for _, n in fitted]
        return self

    def _fit_target(self, lgb, j, name, X_tr, y_tr, X_va, y_va, bar):
        """Target j's booster (or constant) and its tree count."""
        labelled = ~np.isnan(y_tr[:, j])
        t = y_tr[labelled, j]
        if self.task == "classification" and len(np.unique(t)) < 2:
            # one class seen: nothing to split on, the model is that class's rate
            return float(t[0]), 0
        valid_sets = []
        callbacks = [lambda env: bar.set_postfix(target=name, trees=env.iteration + 1, refresh=False)]
        if y_va is not None:
            ok = ~np.isnan(y_va[:, j])
            # ROC-AUC is undefined, and early stopping on it impossible, without both classes
            if ok.any() and (self.task == "regression" or len(np.unique(y_va[ok, j])) == 2):
                valid_sets = [lgb.Dataset(X_va[ok], y_va[ok, j])]
                callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        booster = lgb.train(self._lgb_params(), lgb.Dataset(X_tr[labelled], t), self.n_estimators,
                            valid_sets=valid_sets, callbacks=callbacks)
        best = booster.best_iteration if valid_sets and booster.best_iteration > 0 else booster.current_iteration()
        # Kept as the text a saved model holds: fitted and loaded models predict alike.
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), int(best)

    # ---- prediction --------------------------------------------------------------------------
    def _check_fitted(self):
        if not getattr(self, "boosters_", None):
            raise ValueError("this FingerprintGBDT is not fitted yet; call fit or load")

    def _raw(self, X, smiles_col=None):
        self._check_fitted()
        smiles = self._smiles(X, smiles_col)
        fp = self._fingerprints(smiles)
        out = np.full((1, len(smiles), len(self.target_names_)), np.nan)
        for j, booster in enumerate(self.boosters_):
            if isinstance(booster, float):
                out[0, fp.rows, j] = booster
            elif len(fp.rows):
                out[0, fp.rows, j] = booster.predict(fp.X, num_threads=max(self.n_jobs, 0))
        return out, fp.errors

    # ---- saving ------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Writes ``target<j>.txt`` (LightGBM's text model of each target) and ``card.json``
        (parameters, targets, the files' checksums; ``metadata`` is stored in it)."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = []
        for j, (booster, best) in enumerate(zip(self.boosters_, self.best_iterations_)):
            if isinstance(booster, float):
                files.append({"constant": booster})
                continue
            path = directory / f"target{j}.txt"
            path.write_text(booster.model_to_string())
            files.append({"file": path.name, "sha256": sha256(path), "best_iteration": best})
        card = {"format": FORMAT, "card_version": CARD_VERSION, **common_card(self, metadata),
                "n_models": 1, "weights": {"targets": files}}
        return write_card(directory, card)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "FingerprintGBDT":
        """Loads a saved model; a missing, corrupt or mismatched file is a ValueError naming it."""
        lgb = _lightgbm()
        directory = Path(directory)
        card = read_card(directory, FORMAT, CARD_VERSION)
        try:
            est = estimator_from_card(cls, card)
            est._check_params()
            entries = list(card["weights"]["targets"])
            if len(entries) != len(est.target_names_):
                raise ValueError(f"{len(entries)} models for {len(est.target_names_)} targets")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{directory / 'card.json'} is corrupt or not a graphsci model card: {exc}") from exc
        est.boosters_, est.best_iterations_ = [], []
        for entry in entries:
            if "constant" in entry:
                est.boosters_.append(float(entry["constant"]))
                est.best_iterations_.append(0)
                continue
            path = directory / str(entry.get("file"))
            if not path.is_file():
                raise ValueError(f"{path} is missing")
            if sha256(path) != entry.get("sha256"):
                raise ValueError(f"{path} does not match its checksum in card.json")
            try:
                booster = lgb.Booster(model_str=path.read_text())
            except (lgb.basic.LightGBMError, UnicodeDecodeError, ValueError) as exc:
                raise ValueError(f"{path} is not a LightGBM model: {exc}") from exc
            if booster.num_feature() != est.n_bits:
                raise ValueError(f"{path} reads {booster.num_feature()} features, the card's fingerprint "
                                 f"has {est.n_bits}")
            est.boosters_.append(booster)
            est.best_iterations_.append(int(entry.get("best_iteration", booster.current_iteration())))
        return est
