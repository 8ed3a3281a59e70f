"""ProteinPropertyPredictor: a scikit-learn estimator from structures (files, parsed structures
or residue graphs) to protein- or residue-level properties, saved as safetensors + card.json."""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from graphsci.estimator import Estimator
from tqdm.auto import tqdm

from graphsci.data.graphs import GraphDataset, GraphSample, collate
from graphsci.protein.features import ANGLE_NAMES, SCALE_NAMES, FeatureLayout
from graphsci.protein.graphs import ProteinGraph, residue_graph
from graphsci.protein.models import ProteinGNN
from graphsci.protein.structure import UNKNOWN, Structure, load_structure
from graphsci.train import Trainer
from graphsci.train.metrics import NO_LABELS, reported_roc_auc
from graphsci.train.losses import masked_bce
from graphsci.train.saved import common_card, estimator_from_card, read_card, read_members, write_model_dir
from graphsci.train.trainer import history_frame, seed_everything

CARD_VERSION = 1
FORMAT = "graphsci.protein-predictor"
TASKS = {"regression": ("mse", "rmse"), "classification": ("bce", "roc_auc"),
         "multiclass": ("cross_entropy", "accuracy")}
_GRAPH_PARAMS = ("node", "cutoff", "k", "sequence_edges", "min_seq_sep", "ca_only")


class ProteinPropertyPredictor(Estimator):
    """Geometric graph network on residue graphs.

    Parameters
    ----------
    task : ``regression`` (standardised targets), ``classification`` (binary / multi-label,
        NaN = missing) or ``multiclass`` (one integer label per protein or residue).
    level : ``graph`` (one target row per protein) or ``residue`` (one row per residue).
    geometry : ``False`` drops the edge features and the backbone angles: the geometry-free
        baseline (contact topology and residue types only).
    node, cutoff, k, sequence_edges, min_seq_sep, ca_only : how structures become graphs
        (:func:`graphsci.protein.residue_graph`); ignored for inputs that are already graphs.
    readout : ``mean``, ``sum``, ``max`` or ``attention`` (gated attention pooling): how residue
        states become one protein vector (graph level); ``max``/``attention`` for labels that a
        few residues decide.
    n_models : ensemble size (mean prediction, spread as uncertainty).
    class_weight : ``None`` or ``"balanced"`` (classification): positives weighted by
        negatives / positives per task in the loss, as scikit-learn's ``class_weight``, so that
        rare positive classes (DFG-out, open flaps) are not traded away.

    ``fit(X, y)``: ``X`` is a list of structure files, :class:`Structure`\\ s or
    :class:`ProteinGraph`\\ s, or a DataFrame with a ``path_col`` column of files.
    Fitted attributes: ``models_``, ``target_names_``, ``node_dim_``, ``edge_dim_``,
    ``classes_`` (multiclass), ``mean_``/``scale_`` (regression), ``history_`` (each member's
    per-epoch losses and validation metric, ``best`` marking the epoch kept; saved in the card).
    """

    def __init__(self, task: str = "classification", level: str = "graph", hidden: int = 128,
                 depth: int = 4, dropout: float = 0.1, readout: str = "mean", epochs: int = 60,
                 batch_size: int = 16, lr: float = 1e-3, weight_decay: float = 1e-5,
                 patience: int | None = 15, n_models: int = 1, val_fraction: float = 0.15,
                 geometry: bool = True, node: str = "CA", cutoff: float | None = 10.0,
                 k: int | None = None, sequence_edges: bool = True, min_seq_sep: int = 0,
                 ca_only: bool = False, class_weight: str | None = None, seed: int = 0,
                 progress: bool = True):
        self.task, self.level, self.hidden, self.depth = task, level, hidden, depth
        self.dropout, self.readout, self.epochs, self.batch_size = dropout, readout, epochs, batch_size
        self.lr, self.weight_decay, self.patience, self.n_models = lr, weight_decay, patience, n_models
        self.val_fraction, self.geometry, self.node, self.cutoff = val_fraction, geometry, node, cutoff
        self.k, self.sequence_edges, self.min_seq_sep, self.ca_only = k, sequence_edges, min_seq_sep, ca_only
        self.class_weight, self.seed, self.progress = class_weight, seed, progress

    # ---- inputs ------------------------------------------------------------------------------
    @staticmethod
    def _items(X, path_col=None):
        if isinstance(X, pd.DataFrame):
            col = path_col or next((c for c in X.columns if str(c).lower() in ("path", "file", "structure")), None)
            if col is None or col not in X.columns:
                raise ValueError(f"give path_col: the column of structure files (columns: {', '.join(map(str, X.columns))})")
            return X[col].tolist()
        if isinstance(X, (str, os.PathLike, Structure, ProteinGraph)):
            return [X]
        return list(X)

    def graph(self, item) -> ProteinGraph:
        """The residue graph of one input, built with this estimator's graph parameters."""
        if isinstance(item, ProteinGraph):
            return item
        structure = item if isinstance(item, Structure) else load_structure(item)
        return residue_graph(structure, node=self.node, cutoff=self.cutoff, k=self.k,
                             sequence_edges=self.sequence_edges, min_seq_sep=self.min_seq_sep,
                             ca_only=self.ca_only)

    def _graphs(self, items, what):
        """(graphs, errors): a graph or None per item, with the reason for each None."""
        graphs, errors = [], []
        bar = tqdm(items, desc=f"{what} graphs", unit="protein", disable=(not self.progress) or None)
        for item in bar:
            try:
                graphs.append(self.graph(item))
                errors.append(None)
            except ValueError as exc:  # StructureError included
                graphs.append(None)
                errors.append(str(exc))
        return graphs, errors

    def _inputs(self, g: ProteinGraph):
        x, e = g.node_feats, g.edge_feats
        if not self.geometry:
            start = UNKNOWN + 1 + len(SCALE_NAMES)
            angles = slice(start, start + len(ANGLE_NAMES))
            x = x.clone()
            x[:, angles] = 0.0
            e = None
        return x, e

    def _check_params(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.level not in ("graph", "residue"):
            raise ValueError(f"level must be 'graph' or 'residue', got {self.level!r}")
        if self.n_models < 1:
            raise ValueError("n_models must be at least 1")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")

    def _targets(self, y, sizes):
        """Targets as float arrays, one per protein: (tasks,) or (residues, tasks). ``sizes``
        has an entry per protein: its residue count, or None where it could not be read."""
        try:
            if self.level == "graph":
                arr = np.asarray(y, dtype=np.float64)
                arr = arr.reshape(len(arr), -1)
                if len(arr) != len(sizes):
                    raise ValueError(f"y has {len(arr)} rows for {len(sizes)} proteins")
                return list(arr)
            if len(y) != len(sizes):
                raise ValueError(f"y has {len(y)} entries for {len(sizes)} proteins")
            out = []
            for i, (t, n) in enumerate(zip(y, sizes)):
                t = np.asarray(t, dtype=np.float64)
                t = t.reshape(len(t), -1)
                if n is not None and len(t) != n:
                    raise ValueError(f"protein {i}: {len(t)} residue targets for {n} residues")
                out.append(t)
            return out
        except TypeError as exc:
            raise ValueError(f"targets must be numbers or NaN (missing): {exc}") from None

    def _check_labels(self, t, fit: bool) -> None:
        """Labels (stacked, ``(rows, tasks)``) as fit and scoring take them."""
        if np.isinf(t).any():
            raise ValueError("targets must be finite numbers or NaN (missing)")
        if self.task == "classification" and not np.isin(t[~np.isnan(t)], (0.0, 1.0)).all():
            raise ValueError("classification targets must be 0, 1 or NaN")
        if self.task == "multiclass":
            if t.shape[1] != 1 or (fit and np.isnan(t).any()):
                raise ValueError("multiclass needs one label per protein (or residue), no NaN")
            if not fit:
                unknown = np.setdiff1d(t[~np.isnan(t)], self.classes_)
                if len(unknown):
                    raise ValueError(f"label(s) {unknown[:5].tolist()} are not among the classes seen in "
                                     f"training ({self.classes_.tolist()})")

    # ---- training ----------------------------------------------------------------------------
    def fit(self, X, y, path_col: str | None = None, target_names=None, eval_set=None):
        """Trains ``n_models`` networks; ``eval_set=(X_val, y_val)`` replaces the random
        ``val_fraction`` hold-out for early stopping. Inputs that cannot be read are skipped
        with a warning (``invalid_`` lists them)."""
        self._check_params()
        samples, names, invalid = self._samples(X, y, path_col, "training", fit=True)
        if target_names is not None:
            names = list(target_names)
        self.invalid_ = invalid
        self.target_names_ = names
        if not samples:
            raise ValueError("no readable proteins to train on")
        held_out = None
        if eval_set is not None:
            held_out, _, _ = self._samples(*eval_set, path_col, "validation", fit=False)
            if not held_out:
                raise ValueError("eval_set has no readable proteins")
        loss, metric = TASKS[self.task]
        if self.class_weight == "balanced" and self.task == "classification":
            loss = functools.partial(masked_bce, pos_weight=self._positive_weights(samples))
        self.models_, trainers = [], []
        rng = np.random.default_rng(self.seed)
        for m in range(self.n_models):
            if held_out is None:
                order = rng.permutation(len(samples))
                n_val = max(1, int(round(self.val_fraction * len(samples)))) if len(samples) > 1 else 0
                val = [samples[i] for i in order[:n_val]] or samples
                train = [samples[i] for i in order[n_val:]] or samples
            else:
                train, val = samples, held_out
            seed_everything(self.seed + m)
            model = self._new_model()
            trainers.append(Trainer(
                max_epochs=self.epochs, lr=self.lr, weight_decay=self.weight_decay, loss=loss,
                metric=metric, patience=self.patience, batch_size=self.batch_size,
                seed=self.seed + m, progress=self.progress).fit_graphs(model, GraphDataset(train),
                                                                       GraphDataset(val)))
            self.models_.append(model.eval())
        self.history_ = history_frame(trainers)
        return self

    @staticmethod
    def _positive_weights(samples):
        y = torch.cat([s.y.reshape(-1, s.y.shape[-1]) for s in samples]).double()
        pos = torch.nansum(y, 0)
        neg = (~torch.isnan(y)).sum(0) - pos
        return (neg / pos.clamp(min=1)).clamp(min=1e-3).float()

    def _samples(self, X, y, path_col, what, fit):
        items = self._items(X, path_col)
        if not items:
            raise ValueError(f"no {what} proteins given")
        graphs, errors = self._graphs(items, what)
        targets = self._targets(y, [g.graph.num_nodes if g is not None else None for g in graphs])
        names = ([str(c) for c in y.columns] if isinstance(y, pd.DataFrame)
                 else [str(getattr(y, "name", None) or "y")] if targets[0].shape[-1] == 1
                 else [f"task{j}" for j in range(targets[0].shape[-1])])
        keep = [i for i, g in enumerate(graphs) if g is not None]
        invalid = [(i, errors[i]) for i in range(len(items)) if graphs[i] is None]
        if invalid:
            warnings.warn(f"{len(invalid)} of {len(items)} {what} structures could not be read and were "
                          f"skipped (first: item {invalid[0][0]}: {invalid[0][1]})")
        if fit:
            first = graphs[keep[0]] if keep else None
            if first is not None:
                self.node_dim_ = first.node_feats.shape[1]
                self.edge_dim_ = first.edge_feats.shape[1] if self.geometry else 0
            stacked = np.concatenate([targets[i].reshape(-1, targets[i].shape[-1]) for i in keep]) if keep else None
            if stacked is not None:
                self._fit_target_scaling(stacked)
        samples = []
        for i in keep:
            x, e = self._inputs(graphs[i])
            if x.shape[1] != self.node_dim_:
                raise ValueError(f"{what} item {i}: {x.shape[1]} node features, the model has {self.node_dim_}")
            t = self._encode_targets(targets[i].reshape(-1, targets[i].shape[-1]))
            y_i = torch.tensor(t if self.level == "residue" else t.reshape(-1),
                               dtype=torch.long if self.task == "multiclass" else torch.float32)
            if self.task == "multiclass":
                y_i = y_i.reshape(-1) if self.level == "residue" else y_i.reshape(())
            samples.append(GraphSample(graphs[i].graph, x, e, y_i))
        return samples, names, invalid

    def _fit_target_scaling(self, t):
        self._check_labels(t, fit=True)
        if self.task == "regression":
            self.mean_ = np.nanmean(t, 0)
            self.scale_ = np.nan_to_num(np.nanstd(t, 0), nan=1.0)
            self.scale_[self.scale_ == 0] = 1.0
        elif self.task == "multiclass":
            self.classes_ = np.unique(t[:, 0])

    def _encode_targets(self, t):
        if self.task == "regression":
            return (t - self.mean_) / self.scale_
        if self.task == "multiclass":
            idx = np.searchsorted(self.classes_, t[:, 0])
            if (idx >= len(self.classes_)).any() or (self.classes_[np.minimum(idx, len(self.classes_) - 1)] != t[:, 0]).any():
                raise ValueError("labels outside the classes seen in training")
            return idx
        return t

    def _n_out(self):
        return len(self.classes_) if self.task == "multiclass" else len(self.target_names_)

    def _new_model(self) -> ProteinGNN:
        return ProteinGNN(self.node_dim_, self.edge_dim_, self._n_out(), hidden=self.hidden,
                          depth=self.depth, dropout=self.dropout, level=self.level, readout=self.readout)

    # ---- prediction --------------------------------------------------------------------------
    def _check_fitted(self):
        if not getattr(self, "models_", None):
            raise ValueError("this ProteinPropertyPredictor is not fitted yet; call fit or load")

    def _raw(self, X, path_col=None, batch: int = 32):
        """Per-model outputs (models, proteins) -> arrays (graph level: (n, out); residue
        level: a list of (residues, out)), probabilities for classification, and errors."""
        self._check_fitted()
        items = self._items(X, path_col)
        graphs, errors = self._graphs(items, "predict")
        ok = [i for i, g in enumerate(graphs) if g is not None]
        for i in ok:
            if graphs[i].node_feats.shape[1] != self.node_dim_:
                graphs[i], errors[i] = None, (f"{graphs[i].node_feats.shape[1]} node features; "
                                              f"the model expects {self.node_dim_}")
        ok = [i for i in ok if graphs[i] is not None]
        per_model = [[None] * len(items) for _ in self.models_]
        with torch.inference_mode():
            for start in range(0, len(ok), batch):
                rows = ok[start:start + batch]
                b = collate([GraphSample(graphs[i].graph, *self._inputs(graphs[i]), torch.zeros(()))
                             for i in rows])
                for k, model in enumerate(self.models_):
                    out = self._activate(model(b.graph, b.x, b.edge_feats).double())
                    parts = (torch.split(out, b.graph.batch_num_nodes.tolist()) if self.level == "residue"
                             else out)
                    for j, i in enumerate(rows):
                        per_model[k][i] = parts[j].numpy()
        return per_model, errors, graphs

    def _activate(self, out):
        if self.task == "classification":
            return torch.sigmoid(out)
        if self.task == "multiclass":
            return torch.softmax(out, -1)
        return out * torch.from_numpy(self.scale_) + torch.from_numpy(self.mean_)

    def _columns(self):
        return ([f"p_{c:g}" if isinstance(c, float) else f"p_{c}" for c in self.classes_]
                if self.task == "multiclass" else list(self.target_names_))

    def predict_frame(self, X, path_col: str | None = None) -> pd.DataFrame:
        """Graph level: one row per input with ``structure``, a column per target (value, or
        probability), ``<target>_std`` (ensemble spread) and ``error``. Residue level: one row
        per residue, with ``chain``, ``resseq``, ``icode`` and ``resname`` columns."""
        per_model, errors, graphs = self._raw(X, path_col)
        items = self._items(X, path_col)
        cols = self._columns()
        rows = []
        for i, item in enumerate(items):
            name = _item_name(item)
            outs = [pm[i] for pm in per_model]
            if errors[i] is not None:
                rows.append({"structure": name, **{c: np.nan for c in cols},
                             **{f"{c}_std": np.nan for c in cols}, "error": errors[i]})
                continue
            stack = np.stack(outs)
            mean, std = stack.mean(0), stack.std(0)
            if self.level == "graph":
                rows.append({"structure": name, **dict(zip(cols, mean)),
                             **{f"{c}_std": s for c, s in zip(cols, std)}, "error": None})
            else:
                s = graphs[i].structure
                for r in range(len(mean)):
                    extra = {"chain": s.chain_id[r], "resseq": int(s.resseq[r]), "icode": s.icode[r],
                             "resname": s.resname[r]}
                    rows.append({"structure": name, **extra, **dict(zip(cols, mean[r])),
                                 **{f"{c}_std": v for c, v in zip(cols, std[r])}, "error": None})
        return pd.DataFrame(rows)

    def _mean(self, X, path_col):
        per_model, errors, _ = self._raw(X, path_col)
        bad = [i for i, e in enumerate(errors) if e]
        if bad:
            warnings.warn(f"{len(bad)} structure(s) could not be read and are predicted as NaN "
                          f"(first: item {bad[0]}: {errors[bad[0]]})")
        width = self._n_out()
        means = [np.mean([pm[i] for pm in per_model], 0) if errors[i] is None else None
                 for i in range(len(errors))]
        if self.level == "graph":
            rows = [m if m is not None else np.full(width, np.nan) for m in means]
            return np.stack(rows) if rows else np.zeros((0, width))
        return means

    def predict(self, X, path_col: str | None = None):
        """Regression: values; classification: 0/1 labels; multiclass: class labels. Graph
        level: an array with a row per protein (NaN for unreadable ones); residue level: a
        list with one array per protein (None for unreadable ones)."""
        means = self._mean(X, path_col)

        def label(m):
            if m is None:
                return None
            if self.task == "multiclass":
                return np.where(np.isnan(m).any(-1), np.nan, self.classes_[np.nan_to_num(m).argmax(-1)])
            if self.task == "classification":
                return np.where(np.isnan(m), np.nan, (m >= 0.5).astype(float))
            return m
        if self.level == "graph":
            out = label(means)
            return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 and self.task != "multiclass" else out
        return [label(m) for m in means]

    def predict_proba(self, X, path_col: str | None = None):
        """Class probabilities: multiclass ``(n, classes)``; binary one task ``(n, 2)``."""
        if self.task == "regression":
            raise ValueError("predict_proba needs a classification task")
        p = self._mean(X, path_col)
        if self.task == "classification" and self.level == "graph" and p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def score(self, X, y, path_col: str | None = None) -> float:
        """Accuracy (multiclass), mean ROC-AUC (classification) or R² (regression)."""
        return next(iter(self.evaluate(X, y, path_col).values()))

    def evaluate(self, X, y, path_col: str | None = None) -> dict:
        """Test metrics over the readable inputs (``invalid`` counts the others) and labelled
        rows (NaN labels are missing); a metric without rows to score is NaN, with a warning."""
        means = self._mean(X, path_col)
        if self.level == "graph":
            targets = self._targets(y, [None] * len(means))
            keep = ~np.isnan(means).any(1)
            pred, t = means[keep], np.stack(targets)[keep] if len(targets) else np.zeros((0, 1))
        else:
            targets = self._targets(y, [len(m) if m is not None else None for m in means])
            keep = np.array([m is not None for m in means], dtype=bool)
            width = self._n_out()
            pred = np.concatenate([means[i] for i in np.flatnonzero(keep)] or [np.zeros((0, width))])
            t = np.concatenate([targets[i] for i in np.flatnonzero(keep)] or [np.zeros((0, 1))])
        self._check_labels(t, fit=False)
        if self.task != "multiclass" and t.shape[1] != len(self.target_names_):
            raise ValueError(f"y has {t.shape[1]} target columns, the model predicts {len(self.target_names_)}")
        out = {"invalid": int((~keep).sum())}
        labelled = ~np.isnan(t)
        if not labelled.any():
            warnings.warn(NO_LABELS)
            names = {"multiclass": ["accuracy"], "classification": ["roc_auc", "pr_auc"]}.get(self.task, ["r2", "rmse"])
            return {**{k: float("nan") for k in names}, **out}
        if self.task == "multiclass":
            rows = labelled[:, 0]
            labels = self.classes_[pred[rows].argmax(-1)]
            return {"accuracy": float((labels == t[rows, 0]).mean()), **out}
        if self.task == "classification":
            from sklearn.metrics import average_precision_score
            ap = [average_precision_score(t[labelled[:, j], j], pred[labelled[:, j], j])
                  for j in range(t.shape[1]) if len(np.unique(t[labelled[:, j], j])) == 2]
            return {"roc_auc": reported_roc_auc(pred, t), "pr_auc": float(np.mean(ap)) if ap else float("nan"), **out}
        resid = ((pred - t) ** 2)[labelled]
        centre = np.array([t[labelled[:, j], j].mean() if labelled[:, j].any() else 0.0 for j in range(t.shape[1])])
        total = ((t - centre) ** 2)[labelled].sum()
        return {"r2": float(1 - resid.sum() / total) if total > 0 else float("nan"),
                "rmse": float(np.sqrt(resid.mean())), **out}

    # ---- saving ------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Writes ``model.safetensors`` and ``card.json`` (graph construction, feature sizes,
        targets, normalisation, ``metadata``)."""
        self._check_fitted()
        card = {"format": FORMAT, "card_version": CARD_VERSION, **common_card(self, metadata),
                "node_dim": self.node_dim_, "edge_dim": self.edge_dim_,
                "graph": {p: getattr(self, p) for p in _GRAPH_PARAMS},
                "features": FeatureLayout().__dict__ | {"node_size": self.node_dim_},
                "classes": self.classes_.tolist() if self.task == "multiclass" else None}
        return write_model_dir(directory, card, self.models_)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "ProteinPropertyPredictor":
        """Loads a saved model; a missing, corrupt or mismatched file is a ValueError naming it."""
        directory = Path(directory)
        card = read_card(directory, FORMAT, CARD_VERSION)
        try:
            est = estimator_from_card(cls, card, standardised=True)
            est.node_dim_, est.edge_dim_ = int(card["node_dim"]), int(card["edge_dim"])
            if est.task == "multiclass":
                est.classes_ = np.asarray(card["classes"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{directory / 'card.json'} is corrupt or not a graphsci model card: {exc}") from exc
        est.models_ = read_members(directory, card, est._new_model)
        return est


def _item_name(item) -> str:
    if isinstance(item, ProteinGraph):
        return item.structure.name
    if isinstance(item, Structure):
        return item.name
    return str(item)
