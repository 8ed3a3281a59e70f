"""MoleculeBlend: the average of several molecule models' outputs (scikit-learn's soft voting).
A GNN and a fingerprint GBDT see molecules differently (learned bond-level messages vs counts
of hashed circular substructures) and make different errors, so their average ranks better
than either: on HIV's scaffold split see benchmarks/MOLECULENET.md."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from graphsci.chem.outputs import MoleculeModel
from graphsci.train.saved import read_card, write_card
from graphsci.zoo.store import sha256

CARD_VERSION = 1
FORMAT = "graphsci.molecule-blend"


class MoleculeBlend(MoleculeModel):
    """Averages the predictions of molecule models fitted on the same data: regression values in
    target units, or probabilities. Each model counts once, whatever its own ensemble size, and
    the ``_std`` columns of :meth:`predict_frame` are the spread between the models.

    Parameters
    ----------
    models : list of molecule models (:class:`MoleculePropertyPredictor`,
        :class:`FingerprintGBDT`, ...) with the same ``task``; ``fit`` fits clones of them, and
        :meth:`from_fitted` blends fitted ones as they are.
    n_jobs, progress : when not None, set on every model (as the command line does).

    Fitted attributes: ``models_``, ``target_names_``, ``invalid_``.
    """

    def __init__(self, models=(), n_jobs: int | None = None, progress: bool | None = None):
        self.models, self.n_jobs, self.progress = models, n_jobs, progress

    @property
    def task(self) -> str:
        models = getattr(self, "models_", None) or list(self.models)
        tasks = {m.task for m in models}
        if len(tasks) != 1:
            raise ValueError(f"the blended models must share one task, got {sorted(tasks) or 'no models'}")
        return tasks.pop()

    @property
    def ensemble_size(self) -> int:
        return len(self.models_)

    def _apply_overrides(self, models):
        overrides = {k: v for k, v in (("n_jobs", self.n_jobs), ("progress", self.progress)) if v is not None}
        for m in models:
            m.set_params(**{k: v for k, v in overrides.items() if k in m.get_params(deep=False)})

    def fit(self, X, y=None, smiles_col: str | None = None, target_cols=None, eval_set=None):
        """Fits a clone of every model with the same arguments (see the models' ``fit``)."""
        from sklearn.base import clone

        models = list(self.models)
        if not models or not all(isinstance(m, MoleculeModel) for m in models):
            raise ValueError("models must be a non-empty list of graphsci.chem molecule models")
        self.task      # one task for all
        fitted = [clone(m) for m in models]
        self._apply_overrides(fitted)
        for m in fitted:
            m.fit(X, y, smiles_col=smiles_col, target_cols=target_cols, eval_set=eval_set)
        self._set_fitted(fitted)
        return self

    @classmethod
    def from_fitted(cls, models, **params) -> "MoleculeBlend":
        """A blend of models already fitted on the same targets, used as they are (no refit)."""
        models = list(models)
        if not models or not all(isinstance(m, MoleculeModel) for m in models):
            raise ValueError("models must be a non-empty list of graphsci.chem molecule models")
        est = cls(models, **params)
        est.task      # one task for all
        est._set_fitted(models)
        return est

    def _set_fitted(self, fitted):
        names = [list(m.target_names_) for m in fitted]
        if any(n != names[0] for n in names):
            raise ValueError(f"the blended models predict different targets: {names}")
        self.models_, self.target_names_ = fitted, names[0]
        self.invalid_ = list(getattr(fitted[0], "invalid_", []))

    def _raw(self, X, smiles_col=None):
        if not getattr(self, "models_", None):
            raise ValueError("this MoleculeBlend is not fitted yet; call fit or load")
        self._apply_overrides(self.models_)
        outputs, errors = [], None
        for m in self.models_:
            raw, errs = m._raw(X, smiles_col)
            outputs.append(raw.mean(0))
            errors = errs if errors is None else [a or b for a, b in zip(errors, errs)]
        return np.stack(outputs), errors

    # ---- saving ------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Each model in its own folder (``model0/``, ...; their own saved forms) and a
        ``card.json`` that lists them with the checksums of their cards."""
        if not getattr(self, "models_", None):
            raise ValueError("this MoleculeBlend is not fitted yet; call fit or load")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        members = []
        for k, m in enumerate(self.models_):
            sub = m.save(directory / f"model{k}")
            members.append({"folder": sub.name, "card_sha256": sha256(sub / "card.json")})
        card = {"format": FORMAT, "card_version": CARD_VERSION,
                "params": {"n_jobs": self.n_jobs, "progress": self.progress},
                "targets": self.target_names_, "task": self.task,
                "metadata": dict(metadata or getattr(self, "metadata_", None) or {}),
                "n_models": len(members), "weights": {"models": members}}
        return write_card(directory, card)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "MoleculeBlend":
        """Loads a saved blend and its models; a missing, corrupt or mismatched file is a
        ValueError naming it."""
        from graphsci.zoo import ZooError, load_pretrained

        directory = Path(directory)
        card = read_card(directory, FORMAT, CARD_VERSION)
        try:
            members = list(card["weights"]["models"])
            params = dict(card["params"])
            if not members:
                raise ValueError("it lists no models")
            if len(members) != card["n_models"]:
                raise ValueError(f"it lists {len(members)} models, n_models is {card['n_models']}")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{directory / 'card.json'} is corrupt or not a graphsci model card: {exc}") from exc
        fitted = []
        for entry in members:
            sub = directory / str(entry.get("folder"))
            if not (sub / "card.json").is_file():
                raise ValueError(f"{sub} is missing or has no card.json")
            if sha256(sub / "card.json") != entry.get("card_sha256"):
                raise ValueError(f"{sub / 'card.json'} does not match its checksum in {directory / 'card.json'}")
            try:
                fitted.append(load_pretrained(sub))
            except ZooError as exc:
                raise ValueError(str(exc)) from exc
        est = cls.from_fitted(fitted, n_jobs=params.get("n_jobs"), progress=params.get("progress"))
        est.metadata_ = dict(card.get("metadata") or {})
        return est

