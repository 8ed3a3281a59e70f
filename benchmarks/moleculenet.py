"""MoleculeNet: our five GNN architectures, our fingerprint GBDT, their blends and chemprop 2.3.1 (its defaults, run through its own
command line by this script) on ESOL, Lipophilicity, BBBP, Tox21, SIDER and HIV, random and
scaffold 80/10/10 splits, several seeds. Writes benchmarks/MOLECULENET.md.

Every run trains on train, stops/picks its epoch on validation, and is scored on test with one
metric function (RMSE, or ROC-AUC averaged over tasks with missing labels masked). The random
split is drawn per seed; the scaffold split is deterministic, so its seeds vary only the model
initialisation and batch order. Wall time covers featurisation and training (for chemprop the
whole ``chemprop train`` process, whose start-up is a few seconds).

An ensemble (``n_models`` > 1 in MODEL_PARAMS) scores the mean of its members' outputs; its
record also lists each member's own test score. Seed s trains members s*n .. s*n + n - 1, so
the ensembles of different seeds share no member. Every GNN fit's test outputs (and, since
``--patience`` exists, its epochs run, kept epoch and per-epoch validation score) are kept in
benchmarks/moleculenet_members/ as it finishes, so a stopped ensemble resumes at its next member
and a blend reuses the fits of its GNN. A blend (BLENDS) scores the mean of its GNN's and
``FingerprintGBDT``'s (same seed) test outputs, as ``graphsci.chem.MoleculeBlend`` predicts; its
record lists the two models' own scores.

Finished runs are appended to benchmarks/moleculenet_runs.jsonl and skipped when the script is
started again, so a long run can be resumed (``--rerun`` measures them again; the report keeps
the latest record of each run); the report is rebuilt from that file each time.

    python benchmarks/moleculenet.py                        # everything (many CPU hours)
    python benchmarks/moleculenet.py --datasets esol --seeds 0 1 2 --models dmpnn chemprop
    python benchmarks/moleculenet.py --report                # rebuild MOLECULENET.md only
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rdkit import Chem, RDLogger

from graphsci.chem import FingerprintGBDT, MoleculePropertyPredictor
from graphsci.chem.splits import random_split, scaffold_split
from graphsci.data import data_root
from graphsci.train.metrics import rmse, roc_auc

RDLogger.DisableLog("rdApp.*")
HERE = Path(__file__).parent
RUNS = HERE / "moleculenet_runs.jsonl"
REPORT = HERE / "MOLECULENET.md"
MEMBERS = HERE / "moleculenet_members"

# name: file, target columns (None: every column but smiles), task
DATASETS = {
    "esol": ("esol_delaney.csv", ["logp"], "regression"),
    "lipophilicity": ("lipophilicity.csv", ["lipo"], "regression"),
    "bbbp": ("bbbp.csv", ["p_np"], "classification"),
    "tox21": ("tox21.csv", None, "classification"),
    "sider": ("sider.csv", None, "classification"),
    "hiv": ("hiv.csv.gz", ["HIV_active"], "classification"),
}
# Reference model, not ours: chemprop 2.3.1 with its defaults.
BASELINES = ("chemprop",)
OURS = ("dmpnn+rdkit-3x50+gbdt", "dmpnn+rdkit+gbdt", "dmpnn+rdkit-3x50", "dmpnn+rdkit-3x20", "dmpnn+rdkit",
        "dmpnn", "dmpnn-mean+rdkit", "dmpnn-mean", "attentivefp", "gin", "gcn", "gat", "lgbm+morgan")
GBDT = "lgbm+morgan"
# Per-model settings of the GNNs; everything else is MoleculePropertyPredictor's defaults (50
# epochs, batch 50, lr 1e-3 with chemprop's warm-up/decay schedule, hidden 300, depth 3, "norm"
# readout). The "-mean" D-MPNNs are the earlier default, mean readout. "-3xE" averages three
# `members` fits of E epochs each (HIV: 3x20 costs 1.2 single 50-epoch fits, 3x50 three, about
# 3 h at 1 thread).
MODEL_PARAMS = {
    "dmpnn+rdkit-3x50": {"members": "dmpnn+rdkit", "n_models": 3},
    "dmpnn+rdkit-3x20": {"members": "dmpnn+rdkit", "n_models": 3, "epochs": 20},
    "dmpnn+rdkit": {"arch": "dmpnn", "mol_features": "rdkit2d"},
    "dmpnn": {"arch": "dmpnn"},
    "dmpnn-mean+rdkit": {"arch": "dmpnn", "mol_features": "rdkit2d", "readout": "mean"},
    "dmpnn-mean": {"arch": "dmpnn", "readout": "mean"},
    "attentivefp": {"arch": "attentivefp", "hidden": 200, "depth": 2, "dropout": 0.1},
    "gin": {"arch": "gin", "readout": "sum", "dropout": 0.1},
    "gcn": {"arch": "gcn", "dropout": 0.1},
    "gat": {"arch": "gat", "hidden": 200, "dropout": 0.1},
}
# MoleculeBlend of a GNN (or GNN ensemble) and FingerprintGBDT: the mean of their test outputs.
BLENDS = {"dmpnn+rdkit+gbdt": "dmpnn+rdkit", "dmpnn+rdkit-3x50+gbdt": "dmpnn+rdkit-3x50"}


def arch_of(model: str) -> str | None:
    """The GNN architecture a benchmark model trains (None for the GBDT and chemprop)."""
    model = BLENDS.get(model, model)
    params = MODEL_PARAMS.get(model, {})
    return MODEL_PARAMS[params["members"]]["arch"] if "members" in params else params.get("arch")


def model_epochs(model: str, default: int) -> int | None:
    if model == GBDT:
        return None
    return MODEL_PARAMS.get(BLENDS.get(model, model), {}).get("epochs", default)


def load(name: str, root: Path):
    """The valid molecules of a dataset (the same rows for every model and for chemprop)."""
    file, targets, task = DATASETS[name]
    df = pd.read_csv(root / "molecules" / file)
    targets = targets or [c for c in df.columns if c != "smiles"]
    ok = np.array([Chem.MolFromSmiles(s) is not None for s in df["smiles"]])
    return df.loc[ok, ["smiles"] + targets].reset_index(drop=True), targets, task


def splits(df, method, seed):
    if method == "random":
        return random_split(len(df), (0.8, 0.1, 0.1), seed)
    return scaffold_split(df["smiles"].tolist(), (0.8, 0.1, 0.1))


def score(task, pred, y):
    import torch
    pred, y = torch.tensor(np.asarray(pred, np.float64)), torch.tensor(np.asarray(y, np.float64))
    return rmse(pred, y) if task == "regression" else roc_auc(pred, y)


def _fit_predict(model, train, val, test, targets):
    """A molecule model's test outputs (molecules, tasks) in target units, and its training seconds."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train["smiles"], train[targets].to_numpy(), target_cols=targets,
                  eval_set=(val["smiles"], val[targets].to_numpy()))
    seconds = time.perf_counter() - t0
    raw, _ = model._raw(test["smiles"].tolist())
    return raw.mean(0), seconds


def member_path(ds, split, split_seed, model, epochs, seed, patience=None) -> Path:
    """Where one GNN fit's test outputs are kept: the scaffold split is the same for every seed,
    a random split is drawn per benchmark seed."""
    where = split if split == "scaffold" else f"{split}{split_seed}"
    stop = "" if patience is None else f"p{patience}"
    return MEMBERS / f"{ds}-{where}-{model}-e{epochs}{stop}-seed{seed}.npz"


def gnn_outputs(name, ds, split, df, targets, task, parts, seed, epochs, only=None, patience=None):
    """(test outputs, training seconds, each ensemble member's outputs, each member's
    (epochs run, kept epoch) or None for fits kept before these were recorded) of one of our
    GNN models, or None while a member outside ``only`` (the member indices this process may
    train) is not on disk yet.

    An ensemble of n trains its members as separate predictors, member m with seed s*n + m: the
    same members as ``MoleculePropertyPredictor(n_models=n, seed=s*n)`` (whose member m trains
    with its seed + m), and disjoint across benchmark seeds. Every fit's test outputs are kept in
    moleculenet_members/ under its model, epochs and seed, so an ensemble longer than one sitting
    resumes at its next member, and a single model and an ensemble that share a fit train it once."""
    train, val, test = (df.iloc[p] for p in parts)
    params = MODEL_PARAMS[name]
    n = params.get("n_models", 1)
    member = params.get("members", name)
    member_params = {"epochs": epochs, "patience": patience, **MODEL_PARAMS[member]}
    y = test[targets].to_numpy()
    paths = [(member_path(ds, split, seed, member, epochs, seed * n + m, patience), seed * n + m) for m in range(n)]
    for m, (path, member_seed) in enumerate(paths):
        if not path.exists() and (only is None or m in only):
            model = MoleculePropertyPredictor(task=task, seed=member_seed, progress=False, **member_params)
            pred, secs = _fit_predict(model, train, val, test, targets)
            best = model.history_.loc[model.history_["best"], "epoch"]
            MEMBERS.mkdir(exist_ok=True)
            part = path.with_name(path.name + ".part")   # a process polling for it never reads half a file
            with open(part, "wb") as fh:
                # the validation curve shows what any patience would have kept, without a rerun
                np.savez_compressed(fh, pred=pred, seconds=secs, threads=torch.get_num_threads(),
                                    epochs_run=len(model.history_), best_epoch=int(best.iloc[0]) if len(best) else -1,
                                    val_curve=model.history_["rmse" if task == "regression" else "roc_auc"].to_numpy())
            os.replace(part, path)
    # Checked after training ours, so whichever process finishes last finds every member.
    if not all(path.exists() for path, _ in paths):
        return None
    outputs, seconds, stops = [], 0.0, []
    for path, _ in paths:
        try:
            with np.load(path) as kept:
                pred, secs = kept["pred"], float(kept["seconds"])
                stops.append([int(kept["epochs_run"]), int(kept["best_epoch"])] if "best_epoch" in kept else None)
        except (OSError, ValueError, KeyError) as err:
            raise RuntimeError(f"{path} is unreadable ({err}); delete it to train that member again") from err
        if pred.shape != y.shape:
            raise RuntimeError(f"{path} holds outputs of shape {pred.shape}, the test set is {y.shape}")
        outputs.append(pred)
        seconds += secs
    return np.mean(outputs, 0), seconds, outputs, stops


def gbdt_outputs(df, targets, task, parts, seed):
    """FingerprintGBDT's test outputs and seconds (fingerprinting included): LightGBM on Morgan
    count fingerprints (radius 2, 2048 bins), one booster per target, stopped early on the
    validation part's ROC-AUC / RMSE; its defaults, one thread."""
    model = FingerprintGBDT(task=task, seed=seed, progress=False)
    return _fit_predict(model, *(df.iloc[p] for p in parts), targets)


def run_model(name, ds, split, df, targets, task, parts, seed, epochs, only=None, patience=None):
    """(test score, training seconds, the members' or blended models' own test scores or None,
    the GNN fits' [epochs run, kept epoch] or None), or None while ensemble members trained by
    another process are missing."""
    y = df.iloc[parts[2]][targets].to_numpy()
    if name == GBDT:
        pred, seconds = gbdt_outputs(df, targets, task, parts, seed)
        return score(task, pred, y), seconds, None, None
    gnn = gnn_outputs(BLENDS.get(name, name), ds, split, df, targets, task, parts, seed, epochs, only, patience)
    if gnn is None:
        return None
    pred, seconds, members, stops = gnn
    stops = stops if all(stops) else None
    if name in BLENDS:
        gbdt, gbdt_seconds = gbdt_outputs(df, targets, task, parts, seed)
        # each model counts once, as in MoleculeBlend
        return (score(task, np.mean([pred, gbdt], 0), y), seconds + gbdt_seconds,
                [score(task, pred, y), score(task, gbdt, y)], stops)
    return score(task, pred, y), seconds, [score(task, o, y) for o in members] if len(members) > 1 else None, stops


def run_chemprop(df, targets, task, parts, seed, epochs):
    exe = shutil.which("chemprop") or str(Path(sys.executable).with_name("chemprop"))
    labels = np.empty(len(df), dtype=object)
    for name, p in zip(("train", "val", "test"), parts):
        labels[p] = name
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        df.assign(split=labels).to_csv(data, index=False)
        cmd = [exe, "train", "-i", str(data), "-s", "smiles", "--target-columns", *targets,
               "-t", task, "--splits-column", "split", "-o", str(Path(tmp) / "out"),
               "--pytorch-seed", str(seed), "--data-seed", str(seed), "--accelerator", "cpu",
               "--devices", "1", "--epochs", str(epochs), "-q"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"chemprop failed:\n{proc.stderr[-3000:]}")
        found = sorted(Path(tmp, "out").rglob("test_predictions.csv"))
        if not found:
            raise RuntimeError("chemprop wrote no test_predictions.csv")
        pred = pd.read_csv(found[0])[targets].to_numpy()
    test = df.iloc[np.sort(parts[2])]   # chemprop keeps the file's row order within a split
    return score(task, pred, test[targets].to_numpy()), seconds


KEY = ("dataset", "split", "seed", "model", "epochs", "patience")


def done_keys():
    if not RUNS.exists():
        return set()
    return {tuple(r.get(k) for k in KEY) for r in map(json.loads, RUNS.read_text().splitlines()) if r}


def report():
    runs = pd.DataFrame([json.loads(line) for line in RUNS.read_text().splitlines() if line])
    # a re-measured run replaces its earlier record
    if "patience" not in runs:
        runs["patience"] = np.nan
    runs = runs.drop_duplicates(list(KEY), keep="last")
    lines = ["# MoleculeNet results", "",
             "Written by `benchmarks/moleculenet.py` (see its docstring for the exact protocol).",
             "Test metric mean ± std over seeds (n = number of seeds), and mean training wall time",
             "(featurisation included) on this 2-core CPU machine. RMSE: lower is better; ROC-AUC",
             "(mean over tasks, missing labels masked): higher is better. chemprop 2.3.1 runs with its",
             "defaults through `chemprop train` on the same rows and splits, in the same script run,",
             "except on HIV: chemprop trains all its epochs (no early stop by default) at 1.6-2.1x our",
             "D-MPNN's time per epoch here (Lipophilicity, Tox21), so its six HIV fits would take 4-5 hours",
             "of this machine, more than the time budget had; the issue allows leaving them out.",
             "Runs go one after another with 2 threads each. Records marked `contended` in the runs",
             "file were taken while other jobs shared the two cores; their scores count, their times",
             "do not (a cell without a time has only such records).",
             "**Bold**: the best of the row. `dmpnn+rdkit` is our D-MPNN with RDKit 2-D descriptors",
             "beside the learned molecule vector (`mol_features=\"rdkit2d\"`). `dmpnn` uses the default",
             "`norm` readout (sum of atom vectors / 100, chemprop's); `dmpnn-mean` the mean readout.",
             "`dmpnn+rdkit-3x50` / `-3x20` average the outputs of three `dmpnn+rdkit` members of 50 / 20 epochs",
             "(the runs file lists each member's own test score).",
             "`lgbm+morgan` is `graphsci.chem.FingerprintGBDT` with its defaults: LightGBM on Morgan count",
             "fingerprints (radius 2, 2048 bins), one booster per task, early-stopped on the validation part's",
             "RMSE / ROC-AUC; not a GNN. `<gnn>+gbdt` is `graphsci.chem.MoleculeBlend` of that GNN (ensemble)",
             "and `lgbm+morgan` of the same seed: the mean of their outputs (probabilities / values).",
             "AttentiveFP, GIN, GCN and GAT train with dropout 0.1. Their records made before commit c2b0d79",
             "drew the masks from torch's generator, later ones from graphsci's own (same seeds, other draws),",
             "so rerunning an earlier record gives a statistically equivalent, not identical, figure.",
             "The D-MPNN models use no dropout.",
             "Every GNN fit runs its epochs (50) and keeps the weights of its best validation epoch, as",
             "chemprop does. A cell marked `patience P` stopped its fits after P epochs without a better",
             "validation score (`--patience`): the learning-rate schedule depends only on the epoch count,",
             "so such a fit is the exact beginning of the full one and keeps the same epoch unless a later",
             "one would have scored better. Runs since the `stops` field exists list each fit's",
             "[epochs run, kept epoch] in the runs file.", ""]
    for split in ("random", "scaffold"):
        sub = runs[runs["split"] == split]
        if sub.empty:
            continue
        models = [m for m in (*OURS, *BASELINES) if m in set(sub["model"])]
        lines += [f"## {split.capitalize()} split (80/10/10)", "",
                  "| dataset | metric | " + " | ".join(models) + " |",
                  "|---|---|" + "---|" * len(models)]
        for ds in DATASETS:
            d = sub[sub["dataset"] == ds]
            if d.empty:
                continue
            task = DATASETS[ds][2]
            stats = d.assign(clean=_clean_seconds(d)).groupby("model").agg(mean=("score", "mean"), std=("score", "std"),
                                                               n=("score", "size"), secs=("clean", "mean"))
            best = stats["mean"].idxmin() if task == "regression" else stats["mean"].idxmax()
            cells = []
            for m in models:
                if m not in stats.index:
                    cells.append("–")
                    continue
                r = stats.loc[m]
                secs = "" if np.isnan(r["secs"]) else f", {r['secs']:.0f} s"
                text = (f"{r['mean']:.3f} ± {0 if np.isnan(r['std']) else r['std']:.3f} "
                        f"(n={int(r['n'])}{secs}{_patience_note(d[d['model'] == m]['patience'])})")
                cells.append(f"**{text}**" if m == best else text)
            metric = "RMSE" if task == "regression" else "ROC-AUC"
            lines.append(f"| {ds} | {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += targets(runs) + not_measured(runs)
    commands = sorted(set(runs["command"]))
    lines += ["## Commands", "", "```", *commands, "```", ""]
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")


def _patience_note(patience) -> str:
    """How a cell's runs stopped, when any used ``--patience``."""
    used = patience.dropna()
    if used.empty:
        return ""
    values = "/".join(str(int(p)) for p in sorted(set(used)))
    return f", patience {values}" + ("" if len(used) == len(patience) else f" in {len(used)} of {len(patience)}")


def _clean_seconds(d):
    """Wall times, NaN for records taken while other jobs shared the cores."""
    return d["seconds"].where(~d["contended"].eq(True)) if "contended" in d else d["seconds"]


MIN_SEEDS = 3


def is_gnn(model: str) -> bool:
    """A GNN (or GNN ensemble) alone: not chemprop, the GBDT or a blend with it."""
    return model not in BLENDS and arch_of(model) is not None


def _best_of_ours(runs, ds, split, gnn_only=False):
    """(model, mean score, mean seconds) of our best model (or best GNN) with at least MIN_SEEDS
    seeds on a dataset and split, or None."""
    d = runs[(runs["dataset"] == ds) & (runs["split"] == split) & ~runs["model"].isin(BASELINES)]
    if gnn_only:
        d = d[d["model"].map(is_gnn)]
    if d.empty:
        return None
    stats = d.assign(clean=_clean_seconds(d)).groupby("model").agg(mean=("score", "mean"), secs=("clean", "mean"),
                                                               n=("score", "size"))
    stats = stats[stats["n"] >= MIN_SEEDS]    # the targets are means of 3+ seeds
    if stats.empty:
        return None
    task = DATASETS[ds][2]
    best = stats["mean"].idxmin() if task == "regression" else stats["mean"].idxmax()
    return best, stats.loc[best, "mean"], stats.loc[best, "secs"]


def _matches(ds, value, runs) -> bool:
    """Whether a mean scaffold score matches or beats chemprop's on that dataset."""
    cp = runs.loc[(runs["dataset"] == ds) & (runs["split"] == "scaffold") & (runs["model"] == "chemprop"), "score"].mean()
    return value <= cp if DATASETS[ds][2] == "regression" else value >= cp


def _count(runs, ds, split, model) -> int:
    return int(((runs["dataset"] == ds) & (runs["split"] == split) & (runs["model"] == model)).sum())


def targets(runs) -> list[str]:
    """The issue's acceptance targets, checked against the recorded runs (unmeasured ones say so)."""
    lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]

    def row(text, measured, ok):
        lines.append(f"| {text} | {measured} | {'–' if ok is None else ('yes' if ok else 'no')} |")

    for ds, split, metric, bound in (("esol", "random", "RMSE", 0.58), ("lipophilicity", "random", "RMSE", 0.62),
                                     ("tox21", "random", "ROC-AUC", 0.84), ("hiv", "scaffold", "ROC-AUC", 0.77),
                                     ("bbbp", "scaffold", "ROC-AUC", 0.70)):
        best = _best_of_ours(runs, ds, split)
        sign = "≤" if metric == "RMSE" else "≥"
        if best is None:
            row(f"{ds} {split} {metric} {sign} {bound:.2f}", "not measured", None)
            continue
        ok = best[1] <= bound if metric == "RMSE" else best[1] >= bound
        measured = f"{best[1]:.3f} ({best[0]}, n={_count(runs, ds, split, best[0])})"
        gnn = _best_of_ours(runs, ds, split, gnn_only=True)
        if gnn is not None and gnn[0] != best[0]:
            measured += f"; best GNN alone {gnn[1]:.3f} ({gnn[0]}, n={_count(runs, ds, split, gnn[0])})"
        row(f"{ds} {split} {metric} {sign} {bound:.2f}", measured, ok)
    wins, compared = [], []
    for ds, (_, _, task) in DATASETS.items():
        best = _best_of_ours(runs, ds, "scaffold")
        cp = runs[(runs["dataset"] == ds) & (runs["split"] == "scaffold") & (runs["model"] == "chemprop")]
        if best is None or cp.empty:
            continue
        compared.append(ds)
        if _matches(ds, best[1], runs):
            wins.append(ds)
    gnn_wins = [ds for ds in compared if (g := _best_of_ours(runs, ds, "scaffold", gnn_only=True)) is not None
                and _matches(ds, g[1], runs)]
    row("scaffold: our best model matches or beats chemprop on ≥ 4 of 6 datasets",
        f"{len(wins)} of {len(compared)} compared ({', '.join(wins) or 'none'}); "
        f"GNNs alone {len(gnn_wins)} ({', '.join(gnn_wins) or 'none'})",
        True if len(wins) >= 4 else (False if len(wins) + len(DATASETS) - len(compared) < 4 else None))
    best = _best_of_ours(runs, "esol", "random")
    cp = runs[(runs["dataset"] == "esol") & (runs["split"] == "random") & (runs["model"] == "chemprop")]
    if best is not None and not cp.empty:
        secs = _clean_seconds(cp).mean()
        row("ESOL random: our best model trains in less wall time than chemprop",
            f"{best[0]} {best[2]:.0f} s vs chemprop {secs:.0f} s", best[2] < secs)
    return lines + [""]


def not_measured(runs) -> list[str]:
    """The (dataset, split) cells where one of our architectures has fewer than MIN_SEEDS seeds
    (in its best-covered model)."""
    archs = sorted({p["arch"] for p in MODEL_PARAMS.values() if "arch" in p})
    measured = runs[~runs["model"].isin(BASELINES)].assign(arch=lambda d: d["model"].map(arch_of))
    rows = []
    for ds in DATASETS:
        for split in ("random", "scaffold"):
            cell = measured[(measured["dataset"] == ds) & (measured["split"] == split)]
            seeds = cell.groupby(["arch", "model"]).size().groupby("arch").max()
            short = [f"{a} ({int(seeds.get(a, 0))})" for a in archs if seeds.get(a, 0) < MIN_SEEDS]
            if short:
                rows.append(f"| {ds} | {split} | {', '.join(short)} |")
    if not rows:
        return []
    return ["## Not measured yet", "",
            f"Architectures with fewer than {MIN_SEEDS} seeds in a cell (seeds so far in brackets). HIV (41k",
            "molecules) costs 5x Tox21 per fit, so its cells are filled last, with `--patience 10`.",
            "", "| dataset | split | architectures |", "|---|---|---|", *rows, ""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--splits", nargs="+", default=["random", "scaffold"], choices=["random", "scaffold"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=[*OURS, *BASELINES], choices=[*OURS, *BASELINES])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--patience", type=int, default=None,
                        help="GNN fits stop after this many epochs without a better validation score "
                             "(default: all epochs run); recorded with each run")
    parser.add_argument("--data", default=None)
    parser.add_argument("--report", action="store_true", help="only rebuild MOLECULENET.md")
    parser.add_argument("--rerun", action="store_true", help="measure runs again that are already recorded")
    parser.add_argument("--members", nargs="+", type=int, default=None,
                        help="train only these ensemble members (to split one ensemble over processes); "
                             "the record is written by the run that finds all members on disk")
    args = parser.parse_args(argv)
    if not args.report:
        command = "python benchmarks/moleculenet.py " + " ".join(argv if argv is not None else sys.argv[1:])
        done = set() if args.rerun else done_keys()
        root = data_root(args.data)
        for ds in args.datasets:
            df, targets, task = load(ds, root)
            for split in args.splits:
                for seed in args.seeds:
                    parts = splits(df, split, seed)
                    for model in args.models:
                        epochs = model_epochs(model, args.epochs)
                        patience = args.patience if arch_of(model) else None
                        key = (ds, split, seed, model, epochs, patience)
                        if key in done:
                            continue
                        members = None
                        if model == "chemprop":
                            value, secs = run_chemprop(df, targets, task, parts, seed, epochs)
                        else:
                            result = run_model(model, ds, split, df, targets, task, parts, seed, epochs,
                                               args.members, patience)
                            if result is None:
                                print(f"{ds} {split} seed {seed} {model}: members outside {args.members} not on disk yet")
                                continue
                            value, secs, members, stops = result
                        record = dict(zip(KEY, key), score=value, seconds=secs, n_train=len(parts[0]),
                                      n_test=len(parts[2]), command=command,
                                      threads=torch.get_num_threads())
                        if patience is None:
                            del record["patience"]   # the records before --patience existed have none
                        if members:
                            record["members"] = members
                        if stops:
                            record["stops"] = stops
                        print(json.dumps(record), flush=True)
                        with open(RUNS, "a") as fh:
                            fh.write(json.dumps(record) + "\n")
    report()


if __name__ == "__main__":
    main()
