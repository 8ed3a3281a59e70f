"""The pool-based active-learning loop, and the pools and models it runs on: nodes of a graph
with a GCN, and molecules with a MoleculePropertyPredictor ensemble."""
from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np
import torch
from torch.nn import functional as F

from graphsci import ops
from graphsci.activelearn.strategies import PoolState, Strategy, make_strategy
from graphsci.graph import Graph
from graphsci.nn import GCNConv
from graphsci.nn.gcn import gcn_norm


def _item_ids(ids, n: int, what: str) -> np.ndarray:
    """``ids`` (indices, or a boolean mask over the ``n`` items) as int64 item indices; negative
    ones are refused rather than counted from the end."""
    values = np.asarray(ids)
    if values.dtype == bool:
        # cast to int, a mask would have named items 0 and 1
        if values.shape != (n,):
            raise ValueError(f"{what} as a boolean mask needs {n} entries, got {values.shape}")
        return np.flatnonzero(values)
    if values.size and (values.dtype.kind not in "iuf" or not np.array_equal(values, np.round(values))):
        raise ValueError(f"{what} must be item indices or a boolean mask; got {values.reshape(-1)[:5].tolist()}")
    ids = values.astype(np.int64).reshape(-1)
    if len(ids) and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"{what} must lie in [0, {n}); got {ids.min() if ids.min() < 0 else ids.max()}")
    return ids


def _class_indices(labels, n_classes: int) -> np.ndarray:
    """Labels as int64 class indices, refusing NaN, fractions and classes beyond ``n_classes``."""
    values = np.asarray(labels)
    if values.dtype.kind not in "iub":
        numeric = np.asarray(values, dtype=np.float64) if values.dtype.kind == "f" else None
        if numeric is None or not (np.isfinite(numeric).all() and (numeric == np.round(numeric)).all()):
            raise ValueError(f"labels must be class indices in [0, {n_classes}); got {values[:5].tolist()}")
    values = values.astype(np.int64)
    if len(values) and (values.min() < 0 or values.max() >= n_classes):
        raise ValueError(f"labels must be class indices in [0, {n_classes}); got {values.min()}..{values.max()}")
    return values


class ActiveLearner:
    """Labels items of ``pool`` chosen by ``strategy`` and retrains a fresh model from
    ``model_factory()`` after every batch.

    ``oracle``: a callable ``ids -> labels`` or an array of labels indexed by id. A model has
    ``fit(pool, ids, labels, seed)``, ``predict_proba(pool) -> (N, C)`` and optionally
    ``embed(pool) -> (N, H)``; the pool has ``n_items``, ``graph``, ``features``, ``exclude``
    (ids never to query, e.g. a test set) and ``evaluate(model) -> dict``.
    """

    def __init__(self, model_factory: Callable, strategy: Strategy | str, pool, oracle):
        self.model_factory = model_factory
        self.strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
        self.pool = pool
        self.oracle = oracle
        self._cache: dict = {}

    def _ask(self, ids: np.ndarray) -> np.ndarray:
        labels = self.oracle(ids) if callable(self.oracle) else np.asarray(self.oracle)[ids]
        labels = np.asarray(labels)
        if len(labels) != len(ids):
            raise ValueError(f"the oracle returned {len(labels)} labels for {len(ids)} ids")
        return labels

    def run(self, budget: int, batch_size: int, initial=None, seed: int = 0,
            resume: list | None = None) -> Iterator[dict]:
        """Yields one record per round until ``budget`` labels are used: ``round``,
        ``n_labels``, ``queried`` (ids asked this round), ``labels`` (their labels), ``metrics``
        (the pool's evaluation of the model trained on all labels so far) and ``seconds``.

        ``initial``: ids to label first, or a number of random ids (default: one batch).
        ``resume``: the records of an interrupted run with the same arguments; their labels are
        reused and the run continues where it stopped, choosing what it would have chosen.
        """
        if batch_size < 1 or budget < 1:
            raise ValueError("budget and batch_size must be at least 1")
        n = self.pool.n_items
        labelled = np.zeros(n, dtype=bool)
        excluded = np.zeros(n, dtype=bool)
        if getattr(self.pool, "exclude", None) is not None:
            excluded[_item_ids(self.pool.exclude, n, "the pool's excluded ids")] = True
        if excluded.all():
            raise ValueError("nothing to query: the pool is empty or every item is excluded")
        if not callable(self.oracle) and len(self.oracle) != n:
            raise ValueError(f"the oracle array holds {len(self.oracle)} labels for a pool of {n} items")
        labels = np.full(n, -1, dtype=object)
        start = 0
        for rec in resume or []:
            ids = _item_ids(rec["queried"], n, "the resumed records' ids")
            labelled[ids] = True
            labels[ids] = list(rec["labels"])
            start = rec["round"] + 1
        if start:  # the model the interrupted run had after its last round
            self._fit(labelled, labels, seed * 1000 + start - 1)
        if start == 0:
            rng = np.random.default_rng([seed, 0])
            if initial is None or np.isscalar(initial):
                k = batch_size if initial is None else int(initial)
                candidates = np.flatnonzero(~excluded)
                ids = rng.choice(candidates, min(k, len(candidates), budget), replace=False)
            else:
                ids = np.unique(_item_ids(initial, n, "initial ids"))
                if excluded[ids].any():
                    raise ValueError("initial ids include excluded items (e.g. the test set)")
                if len(ids) > budget:
                    raise ValueError(f"{len(ids)} initial ids exceed the budget of {budget} labels")
            yield self._round(0, ids, labelled, labels, seed)
            start = 1
        r = start
        while labelled.sum() < budget:
            t0 = time.perf_counter()
            state = self._state(labelled | excluded, labelled, r)
            want = min(batch_size, budget - int(labelled.sum()))
            ids = self.strategy.select(state, want, np.random.default_rng([seed, r]))
            if len(ids) == 0:
                break  # the pool is exhausted
            yield self._round(r, ids, labelled, labels, seed, time.perf_counter() - t0)
            r += 1

    def _state(self, blocked, queried, r) -> PoolState:
        model = self.model_
        return PoolState(labelled=blocked, queried=queried.copy(), proba=model.predict_proba(self.pool),
                         embeddings=model.embed(self.pool) if hasattr(model, "embed") else None,
                         features=getattr(self.pool, "features", None), graph=getattr(self.pool, "graph", None),
                         round=r, cache=self._cache)

    def _fit(self, labelled, labels, seed):
        have = np.flatnonzero(labelled)
        self.model_ = self.model_factory()
        self.model_.fit(self.pool, have, np.asarray(list(labels[have])), seed=seed)

    def _round(self, r, ids, labelled, labels, seed, select_seconds=0.0) -> dict:
        t0 = time.perf_counter()
        new = self._ask(ids)
        labelled[ids] = True
        labels[ids] = list(new)
        self._fit(labelled, labels, seed * 1000 + r)
        metrics = self.pool.evaluate(self.model_)
        return {"round": r, "n_labels": int(labelled.sum()), "queried": ids.tolist(),
                "labels": np.asarray(new).tolist(), "metrics": metrics,
                "seconds": round(time.perf_counter() - t0 + select_seconds, 4)}


# ---- nodes of a graph --------------------------------------------------------------------------
class NodePool:
    """The nodes of one graph. ``test_ids`` (with ``test_labels``) score the model and are never
    queried; neither are the ids in ``exclude`` (e.g. nodes without a label)."""

    def __init__(self, graph: Graph, features: torch.Tensor, test_ids=None, test_labels=None, exclude=None):
        if features.shape[0] != graph.num_nodes:
            raise ValueError(f"features have {features.shape[0]} rows for {graph.num_nodes} nodes")
        values = features.coalesce().values() if features.is_sparse else features
        if not torch.isfinite(values).all():  # NaN would reach every model and strategy unnoticed
            raise ValueError("features hold NaN or infinite values")
        self.graph, self.features = graph, features
        self.feature_graph = _FeatureGraph(features)
        self.test_ids = _item_ids([] if test_ids is None else test_ids, graph.num_nodes, "test_ids")
        self.test_labels = None if test_labels is None else np.asarray(test_labels)
        if test_ids is not None and (self.test_labels is None or len(self.test_labels) != len(self.test_ids)):
            raise ValueError("give one test label per test id")
        extra = _item_ids([] if exclude is None else exclude, graph.num_nodes, "exclude")
        self.exclude = np.union1d(self.test_ids, extra)

    @property
    def n_items(self) -> int:
        return self.graph.num_nodes

    def evaluate(self, model) -> dict:
        if len(self.test_ids) == 0:
            return {}
        pred = model.predict_proba(self)[self.test_ids].argmax(1)
        return {"accuracy": float((pred == self.test_labels).mean())}


class _FeatureGraph:
    """``X @ W`` for a sparse ``X`` as message passing: feature j is node ``N + j`` with an edge
    to every item that has it, weighted by the value. The native SpMM then does the product and
    its gradient, 4x faster than torch's sparse COO product on Cora's bag-of-words (forward + backward)."""

    def __init__(self, x: torch.Tensor):
        x = (x if x.is_sparse else x.to_sparse()).coalesce()
        rows, cols = x.indices()
        self.n, self.f = x.shape
        self.graph = Graph(cols + self.n, rows, self.n + self.f)
        self.values = x.values().float()

    def matmul(self, weight: torch.Tensor, drop: float, train: bool) -> torch.Tensor:
        h = torch.cat([weight.new_zeros(self.n, weight.shape[1]), weight])
        e = F.dropout(self.values, drop, train)  # input dropout = dropout of the stored values
        return ops.spmm(self.graph, h, e, "u_mul_e")[: self.n]


class GCNClassifier:
    """Two-layer GCN (Kipf & Welling 2017: 16 hidden, dropout 0.5, Adam lr 0.01, weight decay
    5e-4), trained for a fixed number of epochs on the labelled nodes: with a handful of labels
    there is no validation set to stop on."""

    def __init__(self, n_classes: int, hidden: int = 16, epochs: int = 200, lr: float = 0.01,
                 weight_decay: float = 5e-4, dropout: float = 0.5):
        self.n_classes, self.hidden, self.epochs = n_classes, hidden, epochs
        self.lr, self.weight_decay, self.dropout = lr, weight_decay, dropout

    # Dropout here is torch's, not graphsci.nn.functional's: the seeded results in
    # benchmarks/ACTIVE_LEARNING.md were drawn with its masks, and at Cora's size either costs
    # well under a millisecond a step.
    def _forward(self, pool, train):
        g, norm = gcn_norm(pool.graph)
        w1, b1, conv2 = self.net_
        xw = pool.feature_graph.matmul(w1, self.dropout, train)
        h = F.relu(ops.spmm(g, xw, norm, "u_mul_e") + b1)
        return conv2(pool.graph, F.dropout(h, self.dropout, train)), h

    def fit(self, pool: NodePool, ids, labels, seed: int = 0):
        torch.manual_seed(seed)
        w1 = torch.nn.Parameter(torch.empty(pool.features.shape[1], self.hidden))
        torch.nn.init.xavier_uniform_(w1)
        self.net_ = (w1, torch.nn.Parameter(torch.zeros(self.hidden)), GCNConv(self.hidden, self.n_classes))
        params = [w1, self.net_[1], *self.net_[2].parameters()]
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        idx = torch.as_tensor(ids, dtype=torch.long)
        y = torch.as_tensor(_class_indices(labels, self.n_classes))
        for _ in range(self.epochs):
            opt.zero_grad()
            out, _ = self._forward(pool, True)
            F.cross_entropy(out[idx], y).backward()
            opt.step()
        with torch.no_grad():
            out, h = self._forward(pool, False)
        self.proba_, self.embeddings_ = torch.softmax(out, 1).numpy(), h.numpy()
        return self

    def predict_proba(self, pool) -> np.ndarray:
        return self.proba_

    def embed(self, pool) -> np.ndarray:
        return self.embeddings_


# ---- molecules ---------------------------------------------------------------------------------
class MoleculePool:
    """Molecules to choose from (``smiles``), scored by ROC-AUC on a held-out test set."""

    def __init__(self, smiles, test_smiles=None, test_labels=None, radius: int = 2, bits: int = 2048):
        self.smiles = list(smiles)
        self.test_smiles, self.test_labels = test_smiles, test_labels
        self.graph, self.features, self.exclude = None, None, None
        self.radius, self.bits = radius, bits

    @property
    def n_items(self) -> int:
        return len(self.smiles)

    def fingerprints(self) -> np.ndarray:
        """Morgan bit vectors (the diversity space of molecule pools); zeros for invalid SMILES."""
        if getattr(self, "_fps", None) is None:
            from rdkit import Chem, rdBase
            from rdkit.Chem import rdFingerprintGenerator
            gen = rdFingerprintGenerator.GetMorganGenerator(radius=self.radius, fpSize=self.bits)
            out = np.zeros((len(self.smiles), self.bits), dtype=np.float32)
            with rdBase.BlockLogs():
                for i, s in enumerate(self.smiles):
                    mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
                    if mol is not None:
                        out[i] = gen.GetFingerprintAsNumPy(mol)
            self._fps = out
        return self._fps

    def evaluate(self, model) -> dict:
        if self.test_smiles is None:
            return {}
        from graphsci.train import roc_auc
        p = model.probability(self.test_smiles)[:, 1]
        return {"roc_auc": roc_auc(p, np.asarray(self.test_labels, dtype=np.float64))}


class MoleculeEnsemble:
    """A MoleculePropertyPredictor ensemble (binary classification): the ensemble mean is the
    probability strategies read; molecule fingerprints are the embedding space.

    Defaults suit the few hundred labels of an active-learning run: the mean readout and RDKit
    descriptors beside the learned vector. On BBBP's scaffold split with 40 / 200 random labels
    (2 seeds, 30 epochs) they gave test ROC-AUC 0.68 / 0.67, against 0.51-0.59 / 0.57-0.62 for the
    mean readout alone and below 0.5 for the predictor's ``norm`` readout, whose sum over atoms
    scaled for full datasets barely trains in so few steps."""

    def __init__(self, **params):
        self.params = {"task": "classification", "n_models": 3, "epochs": 30, "hidden": 128,
                       "ffn_hidden": 128, "readout": "mean", "mol_features": "rdkit2d",
                       "progress": False, "val_fraction": 0.15, **params}

    def fit(self, pool: MoleculePool, ids, labels, seed: int = 0):
        from graphsci.chem import MoleculePropertyPredictor
        y = _class_indices(labels, 2).astype(np.float64)
        # With one class labelled so far there is nothing to discriminate: predict its rate.
        self.estimator_, self.constant_ = None, float(y.mean())
        if len(np.unique(y)) > 1:
            self.estimator_ = MoleculePropertyPredictor(**{**self.params, "seed": seed})
            self.estimator_.fit([pool.smiles[i] for i in ids], y)
        self.proba_ = self.probability(pool.smiles)
        return self

    def probability(self, smiles) -> np.ndarray:
        """``(n, 2)`` class probabilities (0.5 for SMILES that cannot be read)."""
        if self.estimator_ is None:
            p = np.full(len(smiles), self.constant_)
        else:
            p = np.nan_to_num(self.estimator_.predict_proba(list(smiles))[:, 1], nan=0.5)
        return np.stack([1 - p, p], 1)

    def predict_proba(self, pool) -> np.ndarray:
        return self.proba_

    def embed(self, pool) -> np.ndarray:
        return pool.fingerprints()
