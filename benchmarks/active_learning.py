"""Active-learning experiments -> benchmarks/ACTIVE_LEARNING.md and PNG curves.

Node classification (GCN, Kipf & Welling settings) on Cora, CiteSeer and Cora-ML: start from
one random label per class, query one label per class per round (a batch of C), up to 20
labels per class; test accuracy on the standard test nodes (Cora, CiteSeer: the Planetoid
1000; Cora-ML: the nodes outside the seed-0 train/validation split), never queried. Every
strategy, seeds 0-9; random, uncertainty and ScatterSample on Cora and CiteSeer also seeds 10-29
(`--seeds 30`). Molecule pool: BBBP (scaffold split 80/10/10 as pool / - / test), ensemble
D-MPNN, ROC-AUC against labels used. Selection speed: ScatterSample on a random graph of 100k
nodes, 1M edges, 128 features, M = 2000.

    python benchmarks/active_learning.py [--datasets cora citeseer cora_ml] [--seeds 10]
        [--strategies ...] [--molecules] [--speed] [--report]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from graphsci.activelearn import (STRATEGIES, ActiveLearner, GCNClassifier, MoleculeEnsemble, MoleculePool,
                                  NodePool, PoolState, ScatterSample)

HERE = Path(__file__).parent
RUNS = HERE / "active_learning_runs.jsonl"
# Kipf & Welling's GCN as published: bag-of-words rows normalised to sum 1, 200 epochs per
# retraining. On Cora's standard 140-label split it reaches 81.9 % (10 seeds; published 81.5);
# the raw 0/1 rows with 100 epochs that earlier runs used reach 80.3 %.
EPOCHS = 200
PROTOCOL = {"features": "row-normalised", "epochs": EPOCHS}
# BBBP pool: MoleculeEnsemble's defaults (mean readout + RDKit descriptors). Earlier records used
# the predictor's norm readout without descriptors, 20 epochs, and scored below 0.6 throughout.
MOLECULE_PROTOCOL = {"model": "dmpnn-mean+rdkit2d", "epochs": 30}
NODE_STRATEGIES = ["random", "uncertainty", "degree", "pagerank", "coreset", "featprop", "age", "scattersample"]
# GRAIN (Zhang et al., VLDB 2021), Table 3, GCN at 20 labels per class
PUBLISHED = {"cora": {"random": 78.8, "age": 82.5, "coreset": 82.6, "GRAIN": 84.2},
             "citeseer": {"random": 70.8, "age": 71.4, "coreset": 71.0, "GRAIN": 74.2}}


def node_data(name, root):
    """The pool (test nodes and unlabelled nodes never queried), labels, number of classes."""
    from graphsci.data import load_npz_graph, load_planetoid, row_normalise
    d = load_planetoid(name, root) if name in ("cora", "citeseer") else load_npz_graph(name, root, seed=0)
    test = torch.nonzero(d.test_mask)[:, 0].numpy()
    y = d.y.numpy()
    return NodePool(d.graph, row_normalise(d.x), test, y[test], exclude=np.flatnonzero(y < 0)), y, d.num_classes


def one_per_class(y, candidates, classes, rng):
    return np.array([rng.choice(candidates[y[candidates] == c]) for c in range(classes)])


# Strategies whose defaults changed since their earliest records: the current records carry the
# variant. ScatterSample clustered the raw propagated columns (records without a variant), then 64
# principal components querying the candidate nearest each centre ("pca64"), and now queries each
# cluster's most typical candidate.
VARIANTS = {"scattersample": "pca64-typical"}
EARLIER_VARIANTS = {"scattersample": {None: "clustering the raw propagated columns (`dim=None`)",
                                      "pca64": "on 64 principal components, querying the candidate nearest "
                                               "each centre (`pick=\"centre\"`)"}}


def current_protocol(r) -> bool:
    """Runs of the current protocol (node records without one used raw features, 100 epochs)."""
    return r.get("protocol") == (MOLECULE_PROTOCOL if r["dataset"] == "bbbp" else PROTOCOL)


def current(r) -> bool:
    """Runs of the current protocol with each strategy's current defaults."""
    return current_protocol(r) and r.get("variant") == VARIANTS.get(r["strategy"])


def done_keys():
    return {(r["dataset"], r["strategy"], r["seed"]) for r in load_runs() if current(r)}


def run_nodes(datasets, strategies, seeds, root):
    done = done_keys()
    for name in datasets:
        pool, y, classes = node_data(name, root)
        candidates = np.setdiff1d(np.arange(len(y)), pool.exclude)
        for seed in range(seeds):  # seeds outside: a cut-short run has every strategy alike
            for strategy in strategies:
                if (name, strategy, seed) in done:
                    continue
                init = one_per_class(y, candidates, classes, np.random.default_rng(seed))
                learner = ActiveLearner(lambda: GCNClassifier(classes, epochs=EPOCHS), strategy, pool, y)
                t0 = time.perf_counter()
                curve = [(r["n_labels"], r["metrics"]["accuracy"], r["seconds"])
                         for r in learner.run(20 * classes, classes, initial=init, seed=seed)]
                rec = {"dataset": name, "strategy": strategy, "seed": seed, "classes": classes, "protocol": PROTOCOL,
                       **({"variant": VARIANTS[strategy]} if strategy in VARIANTS else {}),
                       "labels": [c[0] for c in curve], "accuracy": [c[1] for c in curve],
                       "seconds": time.perf_counter() - t0}
                with RUNS.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                print(name, strategy, seed, f"{rec['accuracy'][-1]:.3f}", f"{rec['seconds']:.0f}s", flush=True)


MOLECULE_STRATEGIES = ("random", "uncertainty", "scattersample")


def run_molecules(root, seeds, strategies=MOLECULE_STRATEGIES, budget=200, batch=20):
    import pandas as pd

    from graphsci.chem.splits import scaffold_split
    df = pd.read_csv(Path(root) / "molecules" / "bbbp.csv")
    train, _, test = scaffold_split(df["smiles"].tolist(), (0.8, 0.1, 0.1))
    pool = MoleculePool(df["smiles"].iloc[train].tolist(), df["smiles"].iloc[test].tolist(),
                        df["p_np"].iloc[test].to_numpy())
    y = df["p_np"].iloc[train].to_numpy()
    done = done_keys()
    for strategy in (s for s in MOLECULE_STRATEGIES if s in strategies):
        for seed in range(seeds):
            if ("bbbp", strategy, seed) in done:
                continue
            model = lambda: MoleculeEnsemble(epochs=MOLECULE_PROTOCOL["epochs"])  # noqa: E731
            learner = ActiveLearner(model, strategy, pool, y)
            t0 = time.perf_counter()
            curve = [(r["n_labels"], r["metrics"]["roc_auc"]) for r in learner.run(budget, batch, initial=batch, seed=seed)]
            rec = {"dataset": "bbbp", "strategy": strategy, "seed": seed, "protocol": MOLECULE_PROTOCOL,
                   **({"variant": VARIANTS[strategy]} if strategy in VARIANTS else {}),
                   "labels": [c[0] for c in curve],
                   "roc_auc": [c[1] for c in curve], "seconds": time.perf_counter() - t0}
            with RUNS.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            print("bbbp", strategy, seed, f"{rec['roc_auc'][-1]:.3f}", flush=True)


def selection_speed(n=100_000, e=1_000_000, f=128, m=2000, batch=100, seed=0):
    from graphsci.graph import Graph
    rng = np.random.default_rng(seed)
    g = Graph(torch.from_numpy(rng.integers(0, n, e)), torch.from_numpy(rng.integers(0, n, e)), n)
    x = torch.from_numpy(rng.normal(size=(n, f)).astype(np.float32))
    proba = rng.dirichlet(np.ones(7), n)
    labelled = np.zeros(n, dtype=bool)
    labelled[rng.choice(n, 1000, replace=False)] = True
    strategy = ScatterSample(candidates=m)
    times = []
    for r in range(3):  # a fresh state each time: the feature propagation is included
        state = PoolState(labelled=labelled, proba=proba, features=x, graph=g, round=r)
        t0 = time.perf_counter()
        ids = strategy.select(state, batch, np.random.default_rng(r))
        times.append(time.perf_counter() - t0)
        assert len(set(ids.tolist())) == batch
    return {"nodes": n, "edges": e, "features": f, "M": m, "batch": batch, "seconds": min(times),
            "threads": torch.get_num_threads()}


def load_runs():
    return [json.loads(line) for line in RUNS.read_text().splitlines()] if RUNS.exists() else []


def mean_cell(acc) -> str:
    """Accuracies (fractions) as "mean ± std (n)" in percent."""
    return f"{100 * np.mean(acc):.1f} ± {100 * np.std(acc):.1f} ({len(acc)})"


def final_accuracy_table(runs, datasets) -> list[str]:
    """Markdown rows: mean ± std test accuracy at the end of each run, strategy by dataset."""
    lines = ["| strategy | " + " | ".join(f"{d} (seeds)" for d in datasets) + " |", "|---|" + "---|" * len(datasets)]
    for s in NODE_STRATEGIES:
        cells = []
        for d in datasets:
            acc = [r["accuracy"][-1] for r in runs if r["dataset"] == d and r["strategy"] == s]
            cells.append(mean_cell(acc) if acc else "-")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def paired_gains(runs, dataset, a, b) -> dict[int, float]:
    """Seed -> final accuracy of strategy a minus that of b, in points, for seeds both have."""
    final = {s: {r["seed"]: r["accuracy"][-1] for r in runs if r["dataset"] == dataset and r["strategy"] == s}
             for s in (a, b)}
    return {k: 100 * (final[a][k] - final[b][k]) for k in sorted(final[a].keys() & final[b].keys())}


def gain_cell(gains: dict) -> str:
    from scipy import stats
    g = np.array(list(gains.values()))
    if len(g) < 2:
        return "-"
    half = stats.t.ppf(0.975, len(g) - 1) * g.std(ddof=1) / np.sqrt(len(g))
    return f"{g.mean():+.1f} [{g.mean() - half:+.1f}, {g.mean() + half:+.1f}] (n={len(g)})"


def report():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    everything = load_runs()
    runs = [r for r in everything if current(r)]
    lines = ["# Active learning", "", "Written by `benchmarks/active_learning.py` (raw runs: "
             "`active_learning_runs.jsonl`). GCN as Kipf & Welling (bag-of-words rows normalised to sum 1, "
             f"2 layers, 16 hidden, dropout 0.5, Adam 0.01, weight decay 5e-4, {EPOCHS} epochs on the labelled "
             "nodes), one random label per class to start, one "
             "label per class queried per round, up to 20 per class; accuracy on test nodes that are "
             "never queried (Cora / CiteSeer: the Planetoid test set; Cora-ML: the nodes outside "
             "the seed-0 train/validation split). Mean ± std over seeds.", ""]
    datasets = [d for d in ("cora", "citeseer", "cora_ml") if any(r["dataset"] == d for r in runs)]
    if datasets:
        lines += ["## Test accuracy (%) at 20 labels per class", ""] + final_accuracy_table(runs, datasets)
        for variant, what in EARLIER_VARIANTS["scattersample"].items():
            old = [r for r in everything if current_protocol(r) and r["strategy"] == "scattersample"
                   and r.get("variant") == variant and r["dataset"] in datasets]
            if old:
                lines += ["", f"ScatterSample {what}, an earlier default, same protocol: " + ", ".join(
                    f"{d} {mean_cell(a)}"
                    for d in datasets if (a := [r["accuracy"][-1] for r in old if r["dataset"] == d])) + "."]
        earlier = [r for r in everything if not current_protocol(r)]
        if earlier:
            lines += ["", "The same table for the runs of the earlier protocol (raw 0/1 bag-of-words rows, 100 "
                      "epochs; the GCN then reached 80.3 % on Cora's standard split against the published 81.5 %, "
                      "and 81.9 % with the published preprocessing; FeatProp there clustered only the unlabelled "
                      "nodes, a batch's worth of clusters per round):", ""]
            lines += final_accuracy_table(earlier, datasets)
        lines += ["", "ScatterSample's gain in accuracy points at 20 labels per class, paired by seed (both runs "
                  "start from the same labels): mean and 95 % interval of the mean (t distribution), over "
                  "the first 10 seeds, over seeds 20-29 (run after the typical pick was chosen on seeds 0-19) "
                  "and over every seed both strategies have:", "",
                  "| dataset | against | seeds 0-9 | seeds 20-29 | all seeds |", "|---|---|---|---|---|"]
        for d in datasets:
            for other in ("random", "uncertainty"):
                gains = paired_gains(runs, d, "scattersample", other)
                if gains:
                    lines.append(f"| {d} | {other} | {gain_cell({k: v for k, v in gains.items() if k < 10})} "
                                 f"| {gain_cell({k: v for k, v in gains.items() if 20 <= k < 30})} "
                                 f"| {gain_cell(gains)} |")
        lines += ["", "Published (GRAIN, VLDB 2021, GCN at 20 labels per class, their protocol):", "",
                  "| method | cora | citeseer |", "|---|---|---|"]
        for method in ("random", "age", "coreset", "GRAIN"):
            lines.append(f"| {method} | {PUBLISHED['cora'][method]} | {PUBLISHED['citeseer'][method]} |")
        lines += ["", "## Labels ScatterSample needs to reach Random's final accuracy", "",
                  "| dataset | Random at 20/class | ScatterSample reaches it with | share of the budget |",
                  "|---|---|---|---|"]
        for d in datasets:
            rand = [r for r in runs if r["dataset"] == d and r["strategy"] == "random"]
            scat = [r for r in runs if r["dataset"] == d and r["strategy"] == "scattersample"]
            if not rand or not scat:
                continue
            target = np.mean([r["accuracy"][-1] for r in rand])
            n = min(len(r["accuracy"]) for r in scat)
            mean_curve = np.mean([r["accuracy"][:n] for r in scat], 0)
            labels = scat[0]["labels"][:n]
            hit = next((labels[i] for i in range(n) if mean_curve[i] >= target), None)
            lines.append(f"| {d} | {100 * target:.1f} | {hit if hit else 'not reached'} labels | "
                         f"{f'{100 * hit / labels[-1]:.0f} %' if hit else '-'} |")
        for d in datasets:
            fig, ax = plt.subplots(figsize=(6, 4))
            for s in NODE_STRATEGIES:
                rs = [r for r in runs if r["dataset"] == d and r["strategy"] == s]
                if not rs:
                    continue
                n = min(len(r["accuracy"]) for r in rs)
                acc = np.array([r["accuracy"][:n] for r in rs]) * 100
                ax.plot(rs[0]["labels"][:n], acc.mean(0), label=s, lw=2.5 if s == "scattersample" else 1.2)
            ax.set_xlabel("labels used"), ax.set_ylabel("test accuracy (%)"), ax.set_title(f"GCN on {d}")
            ax.grid(alpha=0.3), ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(HERE / f"active_learning_{d}.png", dpi=100)
            plt.close(fig)
            lines += ["", f"![{d}](active_learning_{d}.png)"]
    mol = [r for r in runs if r["dataset"] == "bbbp"]
    if mol:
        lines += ["", "## Molecule pool: BBBP", "",
                  "Scaffold split (80 % pool, 10 % test); ensemble of 3 D-MPNNs (mean readout, RDKit descriptors, "
                  f"{MOLECULE_PROTOCOL['epochs']} epochs) retrained "
                  "after each batch of 20; uncertainty = entropy of the ensemble mean; ScatterSample "
                  "clusters Morgan fingerprints of the 200 most uncertain molecules and queries each "
                  "cluster's most typical one. Test ROC-AUC:", "",
                  "| strategy | " + " | ".join(f"{n} labels" for n in mol[0]["labels"][::3]) + " |",
                  "|---|" + "---|" * len(mol[0]["labels"][::3])]
        fig, ax = plt.subplots(figsize=(6, 4))
        for s in MOLECULE_STRATEGIES:
            rs = [r for r in mol if r["strategy"] == s]
            if rs:
                auc = np.array([r["roc_auc"] for r in rs])
                lines.append(f"| {s} ({len(rs)} seeds) | " + " | ".join(f"{v:.3f}" for v in auc.mean(0)[::3]) + " |")
                ax.plot(rs[0]["labels"], auc.mean(0), label=s)
        ax.set_xlabel("labels used"), ax.set_ylabel("test ROC-AUC"), ax.set_title("BBBP molecule pool")
        ax.grid(alpha=0.3), ax.legend()
        fig.tight_layout()
        fig.savefig(HERE / "active_learning_bbbp.png", dpi=100)
        plt.close(fig)
        lines += ["", "![bbbp](active_learning_bbbp.png)"]
    speed_file = HERE / "active_learning_speed.json"
    if speed_file.exists():
        s = json.loads(speed_file.read_text())
        lines += ["", "## Selection speed", "",
                  f"ScatterSample, one batch of {s['batch']} from a random graph of {s['nodes']:,} nodes, "
                  f"{s['edges']:,} edges, {s['features']} features, M = {s['M']} ({s['threads']} threads, "
                  f"feature propagation included): **{s['seconds']:.2f} s**."]
    (HERE / "ACTIVE_LEARNING.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="*", default=[])
    ap.add_argument("--strategies", nargs="*", default=NODE_STRATEGIES, choices=list(STRATEGIES))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--molecules", action="store_true")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--data", default="../shared/data")
    args = ap.parse_args(argv)
    if args.datasets:
        run_nodes(args.datasets, args.strategies, args.seeds, args.data)
    if args.molecules:
        run_molecules(args.data, min(args.seeds, 3), args.strategies)
    if args.speed:
        torch.set_num_threads(2)
        result = selection_speed()
        (HERE / "active_learning_speed.json").write_text(json.dumps(result, indent=1))
        print(result)
    if args.report or not (args.datasets or args.molecules or args.speed):
        report()


if __name__ == "__main__":
    sys.exit(main())
