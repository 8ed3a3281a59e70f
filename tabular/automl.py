"""AutoGluon + graph smoothing (AG+): an AutoGluon TabularPredictor on the node features and
their propagation ``[X, P^k X]``, followed by error smoothing (residuals of the training nodes
spread over the graph) and optional label smoothing, as in Correct & Smooth."""
from __future__ import annotations

import tempfile
import warnings

import numpy as np
import pandas as pd
from graphsci.estimator import Estimator

from graphsci.graph import Graph
from graphsci.tabular.boosting import NodePredictions, check_fit_inputs
from graphsci.tabular.features import PropagatedFeatures

LABEL = "__graphsci_label__"


class AutoGluonSmoothing(NodePredictions, Estimator):
    """AutoGluon on ``[X, P^k X]`` plus error (and label) smoothing over the graph.

    Parameters
    ----------
    task : ``regression`` or ``classification``.
    time_limit, presets, hyperparameters : passed to ``TabularPredictor.fit``.
    feature_steps, lam, feature_components : propagated copies of the numeric features (0: plain
        features; wide inputs as principal components, see :class:`PropagatedFeatures`).
    error_smoothing, label_smoothing, smoothing_lam, smoothing_steps : the post-processing steps
        (they use the fitted graph and labels, so they apply when predicting on that graph).
    path : AutoGluon's model folder (default: a fresh temporary folder).
    verbosity : AutoGluon's verbosity (0: quiet).

    Learned state: ``predictor_``, ``features_``, ``classes_`` (classification).
    """

    def __init__(self, task: str = "regression", time_limit: float | None = 60, presets: str = "medium_quality",
                 hyperparameters: dict | str | None = None, feature_steps: int = 2, lam: float = 2.0,
                 feature_components: int = 8,
                 error_smoothing: bool = True, label_smoothing: bool = False, smoothing_lam: float = 2.0,
                 smoothing_steps: int = 10, path: str | None = None, verbosity: int = 0):
        self.task, self.time_limit, self.presets, self.hyperparameters = task, time_limit, presets, hyperparameters
        self.feature_steps, self.lam, self.feature_components = feature_steps, lam, feature_components
        self.error_smoothing, self.label_smoothing = error_smoothing, label_smoothing
        self.smoothing_lam, self.smoothing_steps = smoothing_lam, smoothing_steps
        self.path, self.verbosity = path, verbosity

    def fit(self, X, y, graph: Graph, train_mask, val_mask=None):
        from autogluon.tabular import TabularPredictor

        y, train, val = check_fit_inputs(self.task, y, graph, train_mask, val_mask)
        if self.task == "regression" and not np.isfinite(y[train].astype(np.float64)).all():
            raise ValueError("y must be finite on the training nodes")
        self.features_ = PropagatedFeatures(self.lam, self.feature_steps, components=self.feature_components).fit(X)
        features = self.features_.transform(X, graph)
        if LABEL in features.columns:
            raise ValueError(f"X may not have a column named {LABEL!r}")
        data = features.assign(**{LABEL: y})
        tuning = None
        if val is not None and val.any():
            tuning = data[val]
            if self.task == "classification":
                known = set(y[train].tolist())
                unseen = sorted(set(y[val].tolist()) - known)
                if unseen:
                    warnings.warn(f"validation classes {unseen} never occur in training and cannot be predicted")
                    tuning = tuning[tuning[LABEL].isin(known)]
        problem = "regression" if self.task == "regression" else (
            "binary" if len(np.unique(y[train])) == 2 else "multiclass")
        self.predictor_ = TabularPredictor(label=LABEL, problem_type=problem,
                                           path=self.path or tempfile.mkdtemp(prefix="graphsci-ag-"),
                                           verbosity=self.verbosity)
        kwargs = {"time_limit": self.time_limit, "presets": self.presets}
        if self.hyperparameters is not None:
            kwargs["hyperparameters"] = self.hyperparameters
        if tuning is not None and len(tuning):
            kwargs["tuning_data"] = tuning
        import logging
        logger = logging.getLogger("autogluon")
        level = logger.level
        if self.verbosity == 0:   # quiet means quiet: no notes about optional model families
            logger.setLevel(logging.ERROR)
        try:
            self.predictor_.fit(data[train], **kwargs)
        finally:
            logger.setLevel(level)
        self.graph_, self.X_fit_, self.train_mask_ = graph, X, train
        if self.task == "classification":
            self.classes_ = np.asarray(self.predictor_.class_labels)
            self.target_ = (y[:, None] == self.classes_[None, :]).astype(np.float64)
        else:
            self.target_ = y.astype(np.float64)
        self.train_residual_ = None
        if self.error_smoothing:
            base = self._base(features)
            mask = train[:, None] if base.ndim == 2 else train
            self.train_residual_ = np.where(mask, self.target_ - base, 0.0)
        return self

    def _base(self, features: pd.DataFrame) -> np.ndarray:
        if len(features) == 0:   # AutoGluon refuses an empty table; an empty graph predicts nothing
            return np.zeros(0) if self.task == "regression" else np.zeros((0, len(self.classes_)))
        if self.task == "regression":
            return self.predictor_.predict(features).to_numpy(dtype=np.float64)
        proba = self.predictor_.predict_proba(features)
        return proba[list(self.classes_)].to_numpy(dtype=np.float64)

    def _base_output(self, X, graph):
        return self._base(self.features_.transform(X, graph))
