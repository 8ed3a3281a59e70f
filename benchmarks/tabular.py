"""Graph + tabular node prediction: regression on County and House, author classification on
DBLP. LightGBM alone, GCN and GAT alone (core layers), a BGNN-style baseline (LightGBM
predictions as an extra GNN input), EBBS (graphsci.tabular.BoostedSmoothing), plain AutoGluon and
AG+ (graphsci.tabular.AutoGluonSmoothing), on the 5 fixed 60/20/20 splits (DBLP also on MAGNN's
split), all in one run. Writes benchmarks/TABULAR.md: test RMSE or accuracy, mean ± std over the
splits, and mean wall time; and EBBS's time against LightGBM's with the same number of trees.

    python benchmarks/tabular.py                   # County, House and DBLP, 5 splits
    python benchmarks/tabular.py --datasets county --splits 2
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from graphsci import nn as gnn
from graphsci.tabular import AutoGluonSmoothing, BoostedSmoothing, load_county, load_dblp, load_house

HERE = Path(__file__).parent
LOADERS = {"county": load_county, "house": load_house, "dblp": load_dblp}


def score(d, pred, idx) -> float:
    """Test RMSE (regression) or accuracy in % (classification) on the nodes ``idx``."""
    pred, y = np.asarray(pred)[idx], np.asarray(d.y)[idx]
    if d.task == "regression":
        return float(np.sqrt(np.mean((pred - y) ** 2)))
    return float(100 * np.mean(pred == y))


def lightgbm_model(d, **kw):
    cls = lgb.LGBMRegressor if d.task == "regression" else lgb.LGBMClassifier
    return cls(learning_rate=0.1, verbose=-1, **kw)


def lightgbm_alone(d, s, seed):
    """Predictions on every node, and the model's output as GNN input: the value, or the class
    probabilities."""
    model = lightgbm_model(d, n_estimators=1000, num_leaves=31, random_state=seed)
    model.fit(d.X.iloc[s["train"]], d.y[s["train"]], eval_set=[(d.X.iloc[s["val"]], d.y[s["val"]])],
              callbacks=[lgb.early_stopping(50, verbose=False)])
    extra = model.predict(d.X) if d.task == "regression" else model.predict_proba(d.X)
    return model.predict(d.X), extra


def dense_features(X: pd.DataFrame, train) -> torch.Tensor:
    """One-hot categoricals, NaN -> training mean, standardised with training statistics."""
    df = pd.get_dummies(X, dtype=np.float64)
    values = df.to_numpy(dtype=np.float64)
    mean = np.nanmean(values[train], 0)
    values = np.where(np.isnan(values), mean, values)
    std = values[train].std(0)
    return torch.tensor((values - mean) / np.where(std > 0, std, 1.0), dtype=torch.float32)


class GNN(nn.Module):
    def __init__(self, kind, d_in, d_out, hidden=64, dropout=0.2):
        super().__init__()
        if kind == "gcn":
            self.convs = nn.ModuleList([gnn.GCNConv(d_in, hidden), gnn.GCNConv(hidden, hidden)])
        else:
            self.convs = nn.ModuleList([gnn.GATConv(d_in, hidden // 4, heads=4), gnn.GATConv(hidden, hidden // 4, heads=4)])
        self.inp = nn.Linear(d_in, hidden)
        self.out = nn.Linear(hidden, d_out)
        self.dropout = dropout

    def forward(self, g, x):
        h = x
        for conv in self.convs:
            h = F.dropout(F.elu(conv(g, h)), self.dropout, self.training)
        return self.out(h + self.inp(x))   # a skip from the raw features


def gnn_alone(d, s, seed, kind, extra=None, epochs=400, patience=50):
    """A two-layer GNN on the standardised features (plus ``extra`` columns: the BGNN-style
    input), early-stopped on the validation loss; predictions on every node."""
    torch.manual_seed(seed)
    x = dense_features(d.X, s["train"])
    regression = d.task == "regression"
    if regression:
        mu, sd = d.y[s["train"]].mean(), d.y[s["train"]].std()
        y = torch.tensor((d.y - mu) / sd, dtype=torch.float32)[:, None]
        loss_fn, d_out = F.mse_loss, 1
    else:
        classes = np.unique(d.y[s["train"]])
        y = torch.from_numpy(np.searchsorted(classes, d.y))
        loss_fn, d_out = F.cross_entropy, len(classes)
    if extra is not None:
        extra = np.asarray(extra, dtype=np.float64).reshape(len(d.y), -1)
        if regression:
            extra = (extra - mu) / sd
        x = torch.cat([x, torch.tensor(extra, dtype=torch.float32)], 1)
    model = GNN(kind, x.shape[1], d_out)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    train, val = torch.from_numpy(s["train"]), torch.from_numpy(s["val"])
    best, best_state, since = float("inf"), None, 0
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(d.graph, x)[train], y[train])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            v = float(loss_fn(model(d.graph, x)[val], y[val]))
        if v < best:
            best, since = v, 0
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
        else:
            since += 1
            if since >= patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        out = model(d.graph, x)
    return out[:, 0].numpy() * sd + mu if regression else classes[out.argmax(1).numpy()]


TIMING_TREES, TIMING_REPEATS = 300, 3


def boosting_times(d, s):
    """Median seconds of LightGBM alone on the training rows, EBBS and EBBS on X alone, each with
    TIMING_TREES trees and no early stopping; the three alternate so that a slow spell of this
    shared host hits them alike."""
    fits = {
        "lightgbm": lambda: lightgbm_model(d, n_estimators=TIMING_TREES, random_state=0).fit(
            d.X.iloc[s["train"]], d.y[s["train"]]),
        "ebbs": lambda: BoostedSmoothing(task=d.task, n_estimators=TIMING_TREES, early_stopping_rounds=0,
                                         error_smoothing=False).fit(d.X, d.y, d.graph, s["train"]),
        "ebbs_on_x": lambda: BoostedSmoothing(task=d.task, n_estimators=TIMING_TREES, early_stopping_rounds=0,
                                              error_smoothing=False, feature_steps=0).fit(d.X, d.y, d.graph, s["train"]),
    }
    seconds = {k: [] for k in fits}
    for _ in range(TIMING_REPEATS):
        for k, fit in fits.items():
            t0 = time.perf_counter()
            fit()
            seconds[k].append(time.perf_counter() - t0)
    return [float(np.median(seconds[k])) for k in fits]


def run(datasets, n_splits, ag_time):
    rows, timing = [], []
    for name in datasets:
        d = LOADERS[name]()
        print(f"{name}: {d.graph.num_nodes} nodes, {d.graph.num_edges // 2} edges, {d.X.shape[1]} features", flush=True)
        splits = [(name, s) for s in d.splits[:n_splits]]
        if d.standard_split is not None:
            splits.append((f"{name} (published split)", d.standard_split))
        for i, (label, s) in enumerate(splits):
            seed, test = i % len(d.splits), s["test"]

            def add(model, fit, start):
                rows.append((label, d.task, model, score(d, fit, test), time.perf_counter() - start))

            t0 = time.perf_counter()
            pred, extra = lightgbm_alone(d, s, seed)
            add("LightGBM", pred, t0)
            for kind in ("gcn", "gat"):
                t0 = time.perf_counter()
                add(kind.upper(), gnn_alone(d, s, seed, kind), t0)
            t0 = time.perf_counter()
            add("BGNN-style (LightGBM -> GCN)", gnn_alone(d, s, seed, "gcn", extra=lightgbm_alone(d, s, seed)[1]), t0)
            t0 = time.perf_counter()
            ebbs = BoostedSmoothing(task=d.task, random_state=seed).fit(d.X, d.y, d.graph, s["train"], s["val"])
            add("EBBS (graphsci)", ebbs.predict(), t0)
            if ag_time:
                for model, kw in (("AutoGluon", dict(feature_steps=0, error_smoothing=False)), ("AG+ (graphsci)", {})):
                    t0 = time.perf_counter()
                    ag = AutoGluonSmoothing(task=d.task, time_limit=ag_time, **kw).fit(d.X, d.y, d.graph, s["train"], s["val"])
                    add(model, ag.predict(), t0)
            print(rows[-7:], flush=True)
            if i == 0:   # same number of trees, no early stopping: the cost of boosting through P
                timing.append((name, TIMING_TREES, *boosting_times(d, s)))
    return pd.DataFrame(rows, columns=["dataset", "task", "model", "score", "seconds"]), timing


def report(results, timing, command):
    lines = ["# Tabular node prediction with graphs", "",
             "Written by `benchmarks/tabular.py`. Test RMSE (regression) or accuracy in % (classification),",
             "mean ± std over the fixed 60/20/20 splits (seeds 0-4, `graphsci.tabular.random_splits`), and",
             "mean wall time per fit on this 2-core CPU; bold: the best of the row.",
             "County: 2016 unemployment rate (%), features the other 2016 county variables, graph the",
             "census county adjacency. House: median house value in $100,000, graph the 10 nearest block",
             "groups. DBLP: research area of 4,057 authors (4 classes), features the author's bag of words",
             "(451 counts), graph the co-authorship projection of author <- authorship -> paper",
             "(`graphsci.tabular.load_dblp`; many authors have no co-author in this subset), also on",
             "MAGNN's published split (400 train / 400 validation / 3,257 test).",
             "LightGBM: 1000 trees max, early stopping on validation; GCN/GAT: two layers of 64 with",
             "a linear skip, Adam, early stopping; BGNN-style: LightGBM's predictions (class probabilities)",
             "as extra GCN inputs (not end-to-end); EBBS: `BoostedSmoothing()` defaults (lam 2, 5 propagation",
             "steps, [X, P^2 X] inputs, error smoothing), early stopping on validation. AutoGluon:",
             "`TabularPredictor` (medium_quality, validation part as tuning data) on X; AG+: the same on",
             "[X, P^2 X] plus error smoothing (`AutoGluonSmoothing`), both with the same time limit per fit.",
             "P^2 X: the numeric columns propagated two steps; inputs with more than 32 numeric columns",
             "(DBLP's words) as their 8 leading principal components (`PropagatedFeatures`).", ""]
    models = list(dict.fromkeys(results["model"]))
    lines += ["| dataset | metric | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for name, d in results.groupby("dataset", sort=False):
        stats = d.groupby("model").agg(mean=("score", "mean"), std=("score", "std"), secs=("seconds", "mean"),
                                       n=("score", "size"))
        regression = d["task"].iloc[0] == "regression"
        best = stats["mean"].idxmin() if regression else stats["mean"].idxmax()
        digits = 3 if regression else 1
        cells = []
        for m in models:
            r = stats.loc[m]
            text = f"{r['mean']:.{digits}f} ± {0 if np.isnan(r['std']) else r['std']:.{digits}f} ({r['secs']:.1f} s)"
            cells.append(f"**{text}**" if m == best else text)
        n = int(stats["n"].max())
        lines.append(f"| {name} (n={n} split{'s' if n > 1 else ''}) | {'RMSE' if regression else 'accuracy %'} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Boosting through the propagation against LightGBM alone, the same number of trees (no early "
              f"stopping, split 0; median of {TIMING_REPEATS} fits each, alternated). EBBS fits trees on every "
              "node (the gradient through the propagation reaches unlabelled nodes too; each tree on a random 60 % "
              "of them) and, by default, on [X, P^2 X]; the last column is EBBS on X alone:", "",
              "| dataset | trees | LightGBM (s) | EBBS (s) | ratio | EBBS on X (s) | ratio |", "|---|---|---|---|---|---|---|"]
    for name, trees, a, b, c in timing:
        lines.append(f"| {name} | {trees} | {a:.2f} | {b:.2f} | {b / a:.2f}x | {c:.2f} | {c / a:.2f}x |")
    lines += ["", f"Command: `{command}`", ""]
    (HERE / "TABULAR.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(LOADERS), choices=list(LOADERS))
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--autogluon-time", type=float, default=30,
                        help="time limit (s) of each AutoGluon fit, plain and AG+ alike (0: skip them)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    results, timing = run(args.datasets, args.splits, args.autogluon_time)
    report(results, timing, "python benchmarks/tabular.py " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
