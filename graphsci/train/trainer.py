"""A Trainer for node-level (one graph, masks) and graph-level (datasets of graphs) tasks:
seeded runs, early stopping on a validation metric with best-weights restore, a progress bar,
and data-parallel training when started by ``torchrun``."""
from __future__ import annotations

import copy
import math
import random
import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from graphsci.data.graphs import GraphDataset, GraphSample, collate
from graphsci.data.masks import node_mask
from graphsci.train import distributed
from graphsci.train.losses import LOSSES
from graphsci.train.metrics import METRICS

if TYPE_CHECKING:
    import pandas as pd


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite before any epoch had a usable validation score."""


def seed_everything(seed: int) -> None:
    """Seeds python, numpy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Trains a model with early stopping.

    Parameters
    ----------
    loss : ``cross_entropy`` (classes), ``bce`` (binary / multi-label, NaN = missing), ``mse``,
        or a callable ``(outputs, targets) -> scalar``.
    metric : ``accuracy``, ``roc_auc``, ``rmse`` or ``mae``, computed on the validation data each
        epoch; the best epoch's weights are restored at the end (ties go to the lower loss).
    patience : epochs without a better validation score before stopping (None: never stop).
    schedule : ``constant`` learning rate, or ``warmup_decay``: linear warm-up from lr/10 over
        the first two epochs, then exponential decay to lr/10 at the last epoch (chemprop's
        schedule, which steadies D-MPNN-style training on small molecule sets).
    progress : show a tqdm bar (it hides itself when stderr is not a terminal).

    ``fit_*`` train the model in place and return the trainer, which then holds ``history_``
    (per-epoch dicts), ``best_epoch_`` and ``best_score_``. The schedule depends on
    ``max_epochs`` alone, so a run stopped by ``patience`` is the exact beginning of the run
    without it: stopping early changes the kept weights only if a later epoch would have
    scored better.
    """

    def __init__(self, max_epochs: int = 200, lr: float = 0.01, weight_decay: float = 0.0,
                 loss: str = "cross_entropy", metric: str = "accuracy", patience: int | None = None,
                 batch_size: int = 32, num_workers: int = 0, seed: int = 0,
                 device: str | torch.device = "cpu", progress: bool = True,
                 schedule: str = "constant"):
        if not callable(loss) and loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
        if max_epochs < 1:
            raise ValueError("max_epochs must be at least 1")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be None or at least 1, got {patience}")
        if schedule not in ("constant", "warmup_decay"):
            raise ValueError(f"unknown schedule {schedule!r}; expected constant or warmup_decay")
        self.max_epochs, self.lr, self.weight_decay = max_epochs, lr, weight_decay
        self.loss, self.metric, self.patience = loss, metric, patience
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.device, self.progress, self.schedule = torch.device(device), progress, schedule

    def _lr_factor(self, epoch: float) -> float:
        """Multiplier of ``lr`` at a (fractional) epoch."""
        if self.schedule == "constant":
            return 1.0
        warmup = min(2.0, self.max_epochs / 2)
        if epoch < warmup:
            return 0.1 + 0.9 * epoch / warmup
        return 0.1 ** ((epoch - warmup) / max(self.max_epochs - warmup, 1e-9))

    # ---- shared loop -------------------------------------------------------------------------
    def _run(self, model, step, validate, rank=0):
        metric_fn, mode = METRICS[self.metric]
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best_key, best_state, since_best = None, None, 0
        # None / NaN when no epoch had a defined validation score (the last weights are kept)
        self.history_, self.best_epoch_, self.best_score_ = [], None, math.nan
        bar = tqdm(range(self.max_epochs), desc="train", disable=(not self.progress or rank != 0) or None)
        for epoch in bar:
            model.train()
            train_loss = step(opt, epoch)
            model.eval()
            with torch.no_grad():
                val_loss, score = validate(metric_fn)
            record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, self.metric: score}
            self.history_.append(record)
            if not math.isfinite(train_loss):
                # The step that gave a NaN / inf loss also made the weights NaN: later epochs
                # cannot recover, and a model of NaN weights would predict NaN for everything.
                bar.close()
                self._diverged(epoch, train_loss, model, best_state)
                return self
            key = (score if mode == "max" else -score, -val_loss)
            if not math.isnan(score) and (best_key is None or key > best_key):
                best_key, since_best = key, 0
                best_state = copy.deepcopy(model.state_dict())
                self.best_epoch_, self.best_score_ = epoch, score
            else:
                since_best += 1
            bar.set_postfix(loss=f"{train_loss:.4f}", **{self.metric: f"{score:.4f}"})
            if self.patience is not None and since_best >= self.patience:
                break
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        return self

    def _diverged(self, epoch, loss, model, best_state):
        what = f"training diverged at epoch {epoch}: the training loss is {loss}"
        if best_state is None:
            raise TrainingDiverged(f"{what}; lower lr (now {self.lr}) or look for extreme values "
                                   "among the features and targets")
        model.load_state_dict(best_state)
        warnings.warn(f"{what}; the weights of epoch {self.best_epoch_} are kept (a lower lr, now "
                      f"{self.lr}, would avoid this)", stacklevel=3)

    # ---- node level ----------------------------------------------------------------------------
    def fit_nodes(self, model: torch.nn.Module, data, x: torch.Tensor | None = None):
        """Full-graph training on ``data`` (graph, x, y, train_mask, val_mask; e.g. a
        :class:`~graphsci.data.NodeDataset`). ``model(graph, x)`` returns per-node outputs."""
        seed_everything(self.seed)
        loss_fn = self.loss if callable(self.loss) else LOSSES[self.loss]
        g, y = data.graph.to(self.device), data.y.to(self.device)
        x = (data.x if x is None else x).to(self.device)
        train = self._mask(data.train_mask, data, "train_mask")
        val = self._mask(data.val_mask, data, "val_mask")
        model.to(self.device)

        def step(opt, epoch):
            opt.zero_grad()
            loss = loss_fn(model(g, x)[train], y[train])
            loss.backward()
            opt.step()
            return float(loss.detach())

        def validate(metric_fn):
            out = model(g, x)
            return float(loss_fn(out[val], y[val])), metric_fn(out[val], y[val])

        return self._run(model, step, validate)

    def evaluate_nodes(self, model, data, mask: torch.Tensor, x: torch.Tensor | None = None) -> float:
        """The metric on the nodes in ``mask`` (a boolean mask or node indices)."""
        mask = self._mask(mask, data, "mask")
        model.eval()
        with torch.no_grad():
            out = model(data.graph.to(self.device), (data.x if x is None else x).to(self.device))
        return METRICS[self.metric][0](out[mask], data.y.to(self.device)[mask])

    def _mask(self, mask, data, name: str) -> torch.Tensor:
        """``mask`` as a boolean tensor on the device, refusing nodes without a label (-1)."""
        keep = torch.from_numpy(node_mask(mask, data.graph.num_nodes, name)).to(self.device)
        y = data.y.to(self.device)
        if y.dtype in (torch.int64, torch.int32) and y.dim() == 1 and bool((y[keep] < 0).any()):
            raise ValueError(f"{name} selects {int((y[keep] < 0).sum())} nodes without a label (-1)")
        return keep

    # ---- graph level ---------------------------------------------------------------------------
    def _loader(self, dataset, shuffle, sampler=None):
        gen = torch.Generator().manual_seed(self.seed)
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.batch_size, shuffle=shuffle and sampler is None,
            sampler=sampler, collate_fn=collate, num_workers=self.num_workers, generator=gen,
            persistent_workers=self.num_workers > 0)

    def _forward(self, model, b: GraphSample):
        b = GraphSample(*(None if t is None else t.to(self.device) for t in b))
        args = [b.graph, b.x]
        if b.edge_feats is not None or b.graph_feats is not None:
            args.append(b.edge_feats)
        if b.graph_feats is not None:
            args.append(b.graph_feats)
        return model(*args), b.y

    def fit_graphs(self, model: torch.nn.Module, train_set: GraphDataset, val_set: GraphDataset):
        """Mini-batch training on datasets of graphs; ``model(graph, x[, edge_feats])`` returns
        one row per graph. Under ``torchrun`` with several processes the model is wrapped in
        DistributedDataParallel and each process trains on its shard of ``train_set``."""
        seed_everything(self.seed)
        loss_fn = self.loss if callable(self.loss) else LOSSES[self.loss]
        model.to(self.device)
        rank, train_model, sampler = 0, model, None
        if distributed.launched():
            rank, world = distributed.setup(self.device)
            distributed.broadcast_state(model)
            train_model = torch.nn.parallel.DistributedDataParallel(model)
            sampler = torch.utils.data.distributed.DistributedSampler(
                train_set, num_replicas=world, rank=rank, shuffle=True, seed=self.seed)
        train_loader = self._loader(train_set, shuffle=True, sampler=sampler)
        val_loader = self._loader(val_set, shuffle=False)

        def step(opt, epoch):
            if sampler is not None:
                sampler.set_epoch(epoch)
            total, count = 0.0, 0
            for i, b in enumerate(train_loader):
                for group in opt.param_groups:
                    group["lr"] = self.lr * self._lr_factor(epoch + i / len(train_loader))
                opt.zero_grad()
                out, y = self._forward(train_model, b)
                loss = loss_fn(out, y)
                loss.backward()
                opt.step()
                total, count = total + float(loss.detach()) * len(y), count + len(y)
            return total / max(count, 1)

        def validate(metric_fn):
            # Every rank scores the whole validation set with identical weights, so all ranks
            # take the same early-stopping decisions.
            outs, ys = zip(*(self._forward(model, b) for b in val_loader))
            out, y = torch.cat(outs), torch.cat(ys)
            return float(loss_fn(out, y)), metric_fn(out, y)

        return self._run(model, step, validate, rank)

    def predict_graphs(self, model, dataset: GraphDataset) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return torch.cat([self._forward(model, b)[0] for b in self._loader(dataset, shuffle=False)])


def history_frame(trainers) -> pd.DataFrame:
    """The per-epoch records of fitted trainers (one per ensemble member) as one DataFrame:
    ``member``, ``epoch``, ``train_loss``, ``val_loss``, the validation metric, and ``best``
    (True on the epoch whose weights each member kept)."""
    import pandas as pd

    frames = []
    for member, trainer in enumerate(trainers):
        frame = pd.DataFrame(trainer.history_)
        frame.insert(0, "member", member)
        frame["best"] = frame["epoch"] == trainer.best_epoch_
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
