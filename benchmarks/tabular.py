"""Graph + tabular node regression on County and House: LightGBM alone, GCN and GAT alone (core
layers), a BGNN-style baseline (LightGBM predictions as an extra GNN input), and EBBS
(graphsci.tabular.BoostedSmoothing), on the 5 fixed 60/20/20 splits, all in one run. Writes
benchmarks/TABULAR.md: test RMSE mean ± std over the splits and mean wall time; and EBBS's
time against LightGBM's with the same number of trees.

    python benchmarks/tabular.py                   # County and House, 5 splits
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
from graphsci.tabular import AutoGluonSmoothing, BoostedSmoothing, load_county, load_house

HERE = Path(__file__).parent
LOADERS = {"county": load_county, "house": load_house}


def rmse(p, y):
    return float(np.sqrt(np.mean((np.asarray(p) - np.asarray(y)) ** 2)))


def lightgbm_alone(d, s, seed):
    model = lgb.LGBMRegressor(n_estimators=1000, learning_rate=0.1, num_leaves=31, verbose=-1, random_state=seed)
    model.fit(d.X.iloc[s["train"]], d.y[s["train"]], eval_set=[(d.X.iloc[s["val"]], d.y[s["val"]])],
              callbacks=[lgb.early_stopping(50, verbose=False)])
    return model.predict(d.X), model


def dense_features(X: pd.DataFrame, train) -> torch.Tensor:
    """One-hot categoricals, NaN -> training mean, standardised with training statistics."""
    df = pd.get_dummies(X, dtype=np.float64)
    values = df.to_numpy(dtype=np.float64)
    mean = np.nanmean(values[train], 0)
    values = np.where(np.isnan(values), mean, values)
    std = values[train].std(0)
    return torch.tensor((values - mean) / np.where(std > 0, std, 1.0), dtype=torch.float32)


class GNN(nn.Module):
    def __init__(self, kind, d_in, hidden=64, dropout=0.2):
        super().__init__()
        if kind == "gcn":
            self.convs = nn.ModuleList([gnn.GCNConv(d_in, hidden), gnn.GCNConv(hidden, hidden)])
        else:
            self.convs = nn.ModuleList([gnn.GATConv(d_in, hidden // 4, heads=4), gnn.GATConv(hidden, hidden // 4, heads=4)])
        self.inp = nn.Linear(d_in, hidden)
        self.out = nn.Linear(hidden, 1)
        self.dropout = dropout

    def forward(self, g, x):
        h = x
        for conv in self.convs:
            h = F.dropout(F.elu(conv(g, h)), self.dropout, self.training)
        return self.out(h + self.inp(x)).squeeze(1)   # a skip from the raw features


def gnn_alone(d, s, seed, kind, extra=None, epochs=400, patience=50):
    torch.manual_seed(seed)
    x = dense_features(d.X, s["train"])
    if extra is not None:
        x = torch.cat([x, torch.tensor((extra - d.y[s["train"]].mean()) / d.y[s["train"]].std(), dtype=torch.float32)[:, None]], 1)
    mu, sd = d.y[s["train"]].mean(), d.y[s["train"]].std()
    y = torch.tensor((d.y - mu) / sd, dtype=torch.float32)
    model = GNN(kind, x.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    train, val = torch.from_numpy(s["train"]), torch.from_numpy(s["val"])
    best, best_state, since = float("inf"), None, 0
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = F.mse_loss(model(d.graph, x)[train], y[train])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            v = float(F.mse_loss(model(d.graph, x)[val], y[val]))
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
        return model(d.graph, x).numpy() * sd + mu


def run(datasets, n_splits, ag_time):
    rows, timing = [], []
    for name in datasets:
        d = LOADERS[name]()
        print(f"{name}: {d.graph.num_nodes} nodes, {d.graph.num_edges // 2} edges, {d.X.shape[1]} features", flush=True)
        for i, s in enumerate(d.splits[:n_splits]):
            test = s["test"]
            t0 = time.perf_counter()
            pred, gbdt = lightgbm_alone(d, s, i)
            rows.append((name, "LightGBM", rmse(pred[test], d.y[test]), time.perf_counter() - t0))
            for kind in ("gcn", "gat"):
                t0 = time.perf_counter()
                p = gnn_alone(d, s, i, kind)
                rows.append((name, kind.upper(), rmse(p[test], d.y[test]), time.perf_counter() - t0))
            t0 = time.perf_counter()
            p = gnn_alone(d, s, i, "gcn", extra=lightgbm_alone(d, s, i)[0])
            rows.append((name, "BGNN-style (LightGBM -> GCN)", rmse(p[test], d.y[test]), time.perf_counter() - t0))
            t0 = time.perf_counter()
            ebbs = BoostedSmoothing(random_state=i).fit(d.X, d.y, d.graph, s["train"], s["val"])
            rows.append((name, "EBBS (graphsci)", rmse(ebbs.predict()[test], d.y[test]), time.perf_counter() - t0))
            if ag_time:
                for label, kw in (("AutoGluon", dict(feature_steps=0, error_smoothing=False)), ("AG+ (graphsci)", {})):
                    t0 = time.perf_counter()
                    ag = AutoGluonSmoothing(time_limit=ag_time, **kw).fit(d.X, d.y, d.graph, s["train"], s["val"])
                    rows.append((name, label, rmse(ag.predict()[test], d.y[test]), time.perf_counter() - t0))
            print(rows[-7:], flush=True)
            if i == 0:   # same number of trees, no early stopping: the cost of boosting through P
                trees = 300
                t0 = time.perf_counter()
                lgb.LGBMRegressor(n_estimators=trees, learning_rate=0.1, verbose=-1, random_state=0).fit(
                    d.X.iloc[s["train"]], d.y[s["train"]])
                t_lgb = time.perf_counter() - t0
                t0 = time.perf_counter()
                BoostedSmoothing(n_estimators=trees, early_stopping_rounds=0, error_smoothing=False).fit(
                    d.X, d.y, d.graph, s["train"])
                timing.append((name, trees, t_lgb, time.perf_counter() - t0))
    return pd.DataFrame(rows, columns=["dataset", "model", "rmse", "seconds"]), timing


def report(results, timing, command):
    lines = ["# Tabular node regression with graphs", "",
             "Written by `benchmarks/tabular.py`. Test RMSE, mean ± std over the fixed 60/20/20 splits",
             "(seeds 0-4, `graphsci.tabular.random_splits`), and mean wall time per fit on this 2-core CPU.",
             "County: 2016 unemployment rate (%), features the other 2016 county variables, graph the",
             "census county adjacency. House: median house value in $100,000, graph the 10 nearest block",
             "groups. LightGBM: 1000 trees max, early stopping on validation; GCN/GAT: two layers of 64 with",
             "a linear skip, Adam, early stopping; BGNN-style: LightGBM's predictions as an extra GCN input",
             "(not end-to-end); EBBS: `BoostedSmoothing()` defaults (lam 2, 5 propagation steps, [X, P^2 X]",
             "inputs, error smoothing), early stopping on validation. AutoGluon: `TabularPredictor`",
             "(medium_quality, validation part as tuning data) on X; AG+: the same on [X, P^2 X] plus error",
             "smoothing (`AutoGluonSmoothing`), both with the same time limit per fit.", ""]
    models = list(dict.fromkeys(results["model"]))
    lines += ["| dataset | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for name, d in results.groupby("dataset", sort=False):
        stats = d.groupby("model").agg(mean=("rmse", "mean"), std=("rmse", "std"), secs=("seconds", "mean"), n=("rmse", "size"))
        best = stats["mean"].idxmin()
        cells = []
        for m in models:
            r = stats.loc[m]
            text = f"{r['mean']:.3f} ± {0 if np.isnan(r['std']) else r['std']:.3f} ({r['secs']:.1f} s)"
            cells.append(f"**{text}**" if m == best else text)
        lines.append(f"| {name} (n={int(stats['n'].max())} splits) | " + " | ".join(cells) + " |")
    lines += ["", "Boosting through the propagation against LightGBM alone, the same number of trees "
              "(no early stopping, split 0):", "", "| dataset | trees | LightGBM (s) | EBBS (s) | ratio |", "|---|---|---|---|---|"]
    for name, trees, a, b in timing:
        lines.append(f"| {name} | {trees} | {a:.2f} | {b:.2f} | {b / a:.2f}x |")
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
