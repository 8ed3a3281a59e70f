import dataclasses
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from graphsci import nn as gnn
from graphsci.data import (GraphDataset, collate, load_npz_graph, load_planetoid, load_tu,
                           row_normalise)
from graphsci.train import Trainer, accuracy, mae, rmse, roc_auc, seed_everything
from graphsci.train.trainer import history_frame
from graphsci.train.losses import masked_bce, masked_mse
from conftest import SHARED_DATA


class GCN(nn.Module):
    def __init__(self, d_in, d_hidden, n_out, dropout=0.5):
        super().__init__()
        self.c1, self.c2 = gnn.GCNConv(d_in, d_hidden), gnn.GCNConv(d_hidden, n_out)
        self.drop = nn.Dropout(dropout)

    def forward(self, g, x):
        x = gnn.functional.dropout(x, self.drop.p, self.training)  # dense or sparse
        return self.c2(g, self.drop(torch.relu(self.c1(g, x))))


def test_metrics_with_missing_labels():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert roc_auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)  # ties count half
    y = np.array([[1.0, np.nan], [3.0, 2.0]])
    p = np.array([[2.0, 9.0], [3.0, 4.0]])
    assert rmse(p, y) == pytest.approx((math.sqrt(0.5) + 2.0) / 2)
    assert mae(p, y) == pytest.approx((0.5 + 2.0) / 2)
    assert accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])) == 0.5
    assert math.isnan(roc_auc([0.1, 0.2], [1, 1]))  # one class only


def test_masked_losses_ignore_nan():
    logits = torch.tensor([[0.0, 2.0]], requires_grad=True)
    y = torch.tensor([[1.0, float("nan")]])
    loss = masked_bce(logits, y)
    assert loss.item() == pytest.approx(math.log(2))
    loss.backward()
    assert logits.grad[0, 1] == 0
    assert masked_mse(torch.tensor([1.0, 5.0]), torch.tensor([3.0, float("nan")])).item() == 4.0


def test_node_training_with_early_stopping_on_cora():
    torch.set_num_threads(2)
    data = load_planetoid("cora", SHARED_DATA)
    x = row_normalise(data.x).to_sparse()
    seed_everything(0)
    model = GCN(x.shape[1], 16, 7)
    trainer = Trainer(max_epochs=200, lr=0.01, weight_decay=5e-4, patience=50, seed=0, progress=False)
    trainer.fit_nodes(model, data, x)
    assert len(trainer.history_) <= 200
    # the restored weights are the best epoch's
    assert trainer.evaluate_nodes(model, data, data.val_mask, x) == pytest.approx(trainer.best_score_)
    assert trainer.evaluate_nodes(model, data, data.test_mask, x) > 0.78
    # node indices are a mask too; a 0/1 integer mask (read as indices: nodes 0 and 1) is refused
    test_ids = torch.nonzero(data.test_mask)[:, 0]
    assert trainer.evaluate_nodes(model, data, test_ids, x) == trainer.evaluate_nodes(model, data, data.test_mask, x)
    with pytest.raises(ValueError, match="a 0/1 mask"):
        trainer.evaluate_nodes(model, data, data.test_mask.long(), x)
    unlabelled = dataclasses.replace(data, y=torch.where(data.test_mask, -1, data.y))
    with pytest.raises(ValueError, match="selects 1000 nodes without a label"):
        trainer.evaluate_nodes(model, unlabelled, data.test_mask, x)


def test_seeded_runs_repeat_exactly():
    data = load_planetoid("citeseer", SHARED_DATA)
    runs = []
    for _ in range(2):
        seed_everything(3)  # the initial weights come from the global generator
        model = GCN(data.x.shape[1], 8, 6)
        Trainer(max_epochs=5, seed=3, progress=False).fit_nodes(model, data)
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(runs[0], runs[1])


def test_graph_training_on_enzymes_slice():
    torch.set_num_threads(2)
    ds = load_tu("ENZYMES", SHARED_DATA)
    assert len(ds) == 600 and {int(s.y) for s in ds.samples} == set(range(6))
    sys.path.insert(0, os.path.dirname(__file__))
    from ddp_worker import GIN

    model = GIN(ds[0].x.shape[1], 32, 6)
    trainer = Trainer(max_epochs=4, batch_size=32, progress=False)
    trainer.fit_graphs(model, GraphDataset(ds.samples[:200]), GraphDataset(ds.samples[200:260]))
    assert trainer.history_[-1]["train_loss"] < trainer.history_[0]["train_loss"]
    pred = trainer.predict_graphs(model, GraphDataset(ds.samples[260:300]))
    assert pred.shape == (40, 6)


def test_a_run_stopped_by_patience_is_the_beginning_of_the_full_run():
    """The warm-up/decay schedule depends on max_epochs only, so early stopping cuts the run
    short without changing a step of it; the kept epoch is the best of the epochs it ran."""
    torch.set_num_threads(2)
    ds = load_tu("ENZYMES", SHARED_DATA)
    sys.path.insert(0, os.path.dirname(__file__))
    from ddp_worker import GIN

    train, val = GraphDataset(ds.samples[:120]), GraphDataset(ds.samples[120:180])
    runs = []
    for patience in (None, 2):
        seed_everything(5)
        model = GIN(ds[0].x.shape[1], 16, 6)
        trainer = Trainer(max_epochs=12, batch_size=32, patience=patience, seed=5, progress=False,
                          schedule="warmup_decay").fit_graphs(model, train, val)
        runs.append(trainer)
    full, stopped = runs
    n = len(stopped.history_)
    assert len(full.history_) == 12 and n < 12   # 6 classes on 60 graphs: the accuracy stalls early
    assert stopped.history_ == full.history_[:n]
    scores = [h["accuracy"] for h in stopped.history_]
    assert stopped.best_score_ == max(scores) and n - 1 - stopped.best_epoch_ == 2
    frame = history_frame(runs)
    assert list(frame.columns) == ["member", "epoch", "train_loss", "val_loss", "accuracy", "best"]
    assert len(frame) == 12 + n and frame.groupby("member")["best"].sum().tolist() == [1, 1]
    assert frame.loc[frame["best"] & (frame["member"] == 1), "epoch"].item() == stopped.best_epoch_


def test_a_diverging_run_is_an_error_or_keeps_its_last_good_epoch():
    from graphsci.train import TrainingDiverged
    from graphsci.train.losses import cross_entropy

    ds = load_tu("ENZYMES", SHARED_DATA)
    sys.path.insert(0, os.path.dirname(__file__))
    from ddp_worker import GIN

    train, val = GraphDataset(ds.samples[:64]), GraphDataset(ds.samples[64:96])   # 2 batches an epoch

    def loss_turning_nan_after(steps):
        taken = [0]

        def loss(out, y):
            value = cross_entropy(out, y)
            if torch.is_grad_enabled():             # training steps, not validation
                taken[0] += 1
                if taken[0] > steps:
                    return value * float("nan")
            return value
        return loss

    with pytest.raises(TrainingDiverged, match="diverged at epoch 0: the training loss is nan; lower lr"):
        Trainer(max_epochs=5, batch_size=32, loss=loss_turning_nan_after(0), progress=False).fit_graphs(
            GIN(ds[0].x.shape[1], 16, 6), train, val)
    model = GIN(ds[0].x.shape[1], 16, 6)
    with pytest.warns(UserWarning, match="diverged at epoch 2: .* the weights of epoch [01] are kept"):
        trainer = Trainer(max_epochs=5, batch_size=32, loss=loss_turning_nan_after(4), progress=False).fit_graphs(
            model, train, val)
    assert len(trainer.history_) == 3 and math.isnan(trainer.history_[2]["train_loss"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert torch.isfinite(trainer.predict_graphs(model, val)).all()


def test_collate_and_dataset_checks():
    ds = load_tu("ENZYMES", SHARED_DATA)
    b = collate(ds.samples[:3])
    assert b.graph.batch_size == 3 and b.x.shape[0] == b.graph.num_nodes and b.y.shape == (3,)
    bad = ds.samples[0]._replace(x=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="sample 0"):
        GraphDataset([bad])
    with pytest.raises(ValueError, match="edge features"):
        collate([ds.samples[0]._replace(edge_feats=torch.zeros(ds.samples[0].graph.num_edges, 1)),
                 ds.samples[1]])


def test_dataloader_with_worker_processes():
    ds = load_tu("ENZYMES", SHARED_DATA)
    loader = torch.utils.data.DataLoader(GraphDataset(ds.samples[:40]), batch_size=8, collate_fn=collate,
                                         num_workers=2)
    sizes = [b.graph.batch_size for b in loader]
    assert sizes == [8] * 5


def test_cora_ml_loader():
    d = load_npz_graph("cora_ml", SHARED_DATA, seed=1)
    assert d.graph.num_nodes == 2995 and d.num_classes == 7 and d.x.shape[1] == 2879
    assert int(d.train_mask.sum()) == 140 and int(d.val_mask.sum()) == 500
    assert int((d.train_mask | d.val_mask | d.test_mask).sum()) == 2995
    pairs = set(zip(d.graph.src.tolist(), d.graph.dst.tolist()))
    assert all((v, u) in pairs for u, v in pairs)


def test_trainer_argument_errors():
    with pytest.raises(ValueError, match="unknown loss"):
        Trainer(loss="hinge")
    with pytest.raises(ValueError, match="unknown metric"):
        Trainer(metric="f1")


def test_ddp_two_processes_end_with_identical_weights(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", MASTER_ADDR="127.0.0.1")
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           worker, str(tmp_path), SHARED_DATA]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt")
    w1 = torch.load(tmp_path / "rank1.pt")
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
