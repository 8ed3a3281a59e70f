"""What every molecule property model in graphsci.chem shares: reading SMILES and targets from
lists or DataFrames, and turning per-member outputs into predictions, probabilities, per-row
error frames, scores and metrics. A model only supplies ``_raw`` (its members' outputs) and
``ensemble_size``; the GNN predictor, the fingerprint GBDT and their blend answer alike."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from graphsci.chem.encoding import guess_smiles_column
from graphsci.estimator import Estimator


class MoleculeModel(Estimator):
    """Base of the SMILES -> properties estimators. Subclasses define ``task``,
    ``target_names_``, ``ensemble_size`` and ``_raw(X, smiles_col)`` -> ``(outputs, errors)``:
    outputs ``(members, n, tasks)`` in target units (regression) or probabilities, NaN rows for
    invalid SMILES, and one error message (or None) per input."""

    input_kind = "molecule"      # what the command line feeds it

    # ---- inputs ------------------------------------------------------------------------------
    @staticmethod
    def _smiles(X, smiles_col=None) -> list:
        """The SMILES of ``X`` (a sequence, or a DataFrame column); RDKit molecules among them
        are written as SMILES, which is what the models were trained on."""
        from rdkit import Chem

        if isinstance(X, pd.DataFrame):
            col = smiles_col if smiles_col is not None else guess_smiles_column(X)
            if col not in X.columns:
                raise ValueError(f"column {col!r} not in the DataFrame (columns: {', '.join(map(str, X.columns))})")
            values = X[col].tolist()
        elif isinstance(X, str):
            raise ValueError("X must be a sequence of SMILES, not a single string")
        else:
            values = list(X)
        return [Chem.MolToSmiles(v) if isinstance(v, Chem.Mol) else v for v in values]

    def _targets(self, X, y, smiles_col, target_cols):
        """``(smiles, y (n, tasks) float64 with NaN = missing, target names)`` from
        ``(smiles, y)`` or ``(df, target_cols=[...])``, checked for the task."""
        smiles = self._smiles(X, smiles_col)
        if y is None:
            if not isinstance(X, pd.DataFrame) or not target_cols:
                raise ValueError("give y, or a DataFrame with target_cols")
            missing = [c for c in target_cols if c not in X.columns]
            if missing:
                raise ValueError(f"target column(s) {missing} not in the DataFrame")
            y, names = self._as_float(X[list(target_cols)]), list(target_cols)
        else:
            names = list(target_cols) if target_cols else None
            if names is None and isinstance(y, pd.DataFrame):
                names = [str(c) for c in y.columns]
            label = getattr(y, "name", None)
            y = self._as_float(y)
            if names is None:
                names = ([str(label or "y")] if y.ndim == 1 else [f"task{j}" for j in range(y.shape[1])])
        if len(smiles) == 0:
            raise ValueError("no molecules given")
        y2 = self._checked_rows(y, len(smiles))
        if len(names) != y2.shape[1]:
            raise ValueError(f"{len(names)} target names for {y2.shape[1]} target columns")
        return smiles, y2, names

    def _as_float(self, values) -> np.ndarray:
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as e:
            kind = "0, 1 or NaN" if self.task == "classification" else "numbers or NaN (missing)"
            raise ValueError(f"targets must be {kind}: {e}") from None

    def _checked_rows(self, y: np.ndarray, n: int) -> np.ndarray:
        """``y`` as ``(n, tasks)``: one row per molecule, finite or NaN, 0/1 for classification."""
        if y.ndim not in (1, 2):
            raise ValueError(f"y has shape {y.shape}: expected one row per molecule ({n})")
        if len(y) != n:
            raise ValueError(f"y has {len(y)} rows for {n} molecules")
        y2 = y.reshape(n, -1)
        if np.isinf(y2).any():
            raise ValueError("targets must be finite numbers or NaN (missing)")
        if self.task == "classification" and not np.isin(y2[~np.isnan(y2)], (0.0, 1.0)).all():
            raise ValueError("classification targets must be 0, 1 or NaN")
        return y2

    def _scoring_labels(self, X, y, smiles_col) -> np.ndarray:
        """The labels ``y`` of ``X`` to score a fitted model on, checked as in fitting (a
        mismatch used to give NaN or a score over the wrong rows)."""
        y2 = self._checked_rows(self._as_float(y), len(self._smiles(X, smiles_col)))
        if y2.shape[1] != len(self.target_names_):
            raise ValueError(f"y has {y2.shape[1]} target columns, the model predicts "
                             f"{len(self.target_names_)} ({', '.join(map(str, self.target_names_))})")
        return y2

    @staticmethod
    def _require_labels(y, names) -> None:
        """A target with no label among the training molecules cannot be learned; refusing it
        beats predicting NaN (or a constant) for it."""
        empty = [name for name, column in zip(names, np.asarray(y).T) if np.isnan(column).all()]
        if empty:
            raise ValueError(f"target(s) {empty} have no labelled training molecules")

    # ---- outputs -----------------------------------------------------------------------------
    def _shape(self, values, X):
        """(n, tasks) -> a DataFrame for DataFrame input, else (n,) for one task or (n, tasks)."""
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(values, index=X.index, columns=self.target_names_)
        return values[:, 0] if values.shape[1] == 1 else values

    @staticmethod
    def _mean_std(raw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows of invalid SMILES
            return raw.mean(0), raw.std(0)

    def predict(self, X, smiles_col: str | None = None, return_std: bool = False):
        """Regression: ensemble mean in target units (``return_std`` adds the ensemble standard
        deviation). Classification: 0/1 labels. ``X`` is a sequence of SMILES (RDKit molecules
        are read as their SMILES) or a DataFrame with a SMILES column (``smiles_col``). Invalid
        SMILES give NaN rows (and a warning)."""
        raw, errors = self._raw(X, smiles_col)
        bad = [i for i, e in enumerate(errors) if e]
        if bad:
            warnings.warn(f"{len(bad)} invalid SMILES predicted as NaN (first: row {bad[0]}: {errors[bad[0]]})")
        mean, std = self._mean_std(raw)
        if self.task == "classification":
            mean = np.where(np.isnan(mean), np.nan, (mean >= 0.5).astype(float))
        std[np.isnan(mean)] = np.nan
        if return_std:
            return self._shape(mean, X), self._shape(std, X)
        return self._shape(mean, X)

    def predict_frame(self, X, smiles_col: str | None = None) -> pd.DataFrame:
        """One row per input: a column per target (value in target units, or probability of
        the positive class), ``<target>_std`` (ensemble spread; 0 for a single model) and
        ``error`` (None, or why the molecule could not be read). The index follows ``X``."""
        raw, errors = self._raw(X, smiles_col)
        mean, std = self._mean_std(raw)
        index = X.index if isinstance(X, pd.DataFrame) else None
        out = pd.DataFrame(mean, columns=self.target_names_, index=index)
        for j, name in enumerate(self.target_names_):
            out[f"{name}_std"] = std[:, j]
        out["error"] = errors
        return out

    def predict_proba(self, X, smiles_col: str | None = None):
        """Probability of the positive class: ``(n, 2)`` for one task (scikit-learn's layout),
        ``(n, tasks)`` for several; NaN rows for invalid SMILES."""
        if self.task != "classification":
            raise ValueError("predict_proba needs task='classification'")
        raw, _ = self._raw(X, smiles_col)
        p = raw.mean(0)
        if p.shape[1] == 1 and not isinstance(X, pd.DataFrame):
            return np.hstack([1 - p, p])
        return self._shape(p, X)

    def score(self, X, y, smiles_col: str | None = None) -> float:
        """R² (regression) or mean ROC-AUC over tasks (classification), on labelled rows."""
        from graphsci.train.metrics import roc_auc

        y = self._scoring_labels(X, y, smiles_col)
        if self.task == "classification":
            raw, errors = self._raw(X, smiles_col)
            keep = np.array([e is None for e in errors], dtype=bool)
            if not keep.all():      # ranks are undefined with NaN among them: score the readable rows
                warnings.warn(f"{int((~keep).sum())} invalid SMILES left out of the score")
            return roc_auc(raw.mean(0)[keep], y[keep])
        pred = np.asarray(self.predict(X, smiles_col), dtype=np.float64).reshape(len(y), -1)
        ok = ~np.isnan(y) & ~np.isnan(pred)
        resid = ((y - pred) ** 2)[ok].sum()
        total = ((y - np.nanmean(np.where(ok, y, np.nan), 0)) ** 2)[ok].sum()
        return float(1 - resid / total) if total > 0 else float("nan")

    def evaluate(self, X, y, smiles_col: str | None = None) -> dict:
        """Test metrics averaged over targets (missing labels masked): ``rmse``, ``mae`` and
        ``r2`` for regression, ``roc_auc`` for classification. Rows with invalid SMILES are
        left out and counted in ``invalid``."""
        from graphsci.train.metrics import NO_LABELS, reported_roc_auc

        y = self._scoring_labels(X, y, smiles_col)
        raw, errors = self._raw(X, smiles_col)
        keep = np.array([e is None for e in errors], dtype=bool)
        pred, t = raw.mean(0)[keep], y[keep]
        out = {"invalid": int((~keep).sum())}
        if self.task == "classification":
            return {"roc_auc": reported_roc_auc(pred, t), **out}
        columns = [(pred[~np.isnan(t[:, j]), j], t[~np.isnan(t[:, j]), j]) for j in range(t.shape[1])]
        columns = [(p, y) for p, y in columns if len(y)]
        if not columns:
            warnings.warn(NO_LABELS)
            return {"rmse": float("nan"), "mae": float("nan"), "r2": float("nan"), **out}
        # R² needs labels that vary; a target whose labels are all equal has none
        r2 = [1 - ((p - y) ** 2).sum() / ((y - y.mean()) ** 2).sum() for p, y in columns if np.ptp(y) > 0]
        return {"rmse": float(np.mean([np.sqrt(np.mean((p - y) ** 2)) for p, y in columns])),
                "mae": float(np.mean([np.mean(np.abs(p - y)) for p, y in columns])),
                "r2": float(np.mean(r2)) if r2 else float("nan"), **out}
