"""Dropout: graphsci's native counter-based masks against torch's ``F.dropout`` (which PyG, DGL
and chemprop layers call), as one op and inside molecule-model training, in this one process.
Writes the "dropout" section of benchmarks/RESULTS.md.

Contenders are timed in alternation, so both see the same machine conditions. The training rows
fit a ``MoleculePropertyPredictor`` on the first molecules of HIV once with graphsci's masks and
once with ``F.dropout`` patched in as graphsci's dropout (everything else identical)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from torch.nn import functional as F

from graphsci.chem import MoleculePropertyPredictor
from graphsci.data import data_root
from graphsci.nn import functional as gfn

sys.path.insert(0, str(Path(__file__).parent))
from _results import write_section  # noqa: E402
from kernels import timeit_interleaved  # noqa: E402

OURS_DROPOUT = gfn.dropout
ARCHS = {"gcn": {"dropout": 0.1}, "gin": {"readout": "sum", "dropout": 0.1},
         "gat": {"hidden": 200, "dropout": 0.1}, "attentivefp": {"hidden": 200, "depth": 2, "dropout": 0.1}}


def torch_dropout(x, p, training=True):
    return F.dropout(x, p, training)


def op_rows(threads):
    rows = []
    # A batch of 50 drug-like molecules at width 300 (atoms), its directed bonds, and Cora's hidden layer.
    for label, shape in (("1,300 x 300 (50 molecules' atoms)", (1300, 300)),
                         ("2,700 x 300 (their directed bonds)", (2700, 300)),
                         ("2,708 x 64 (Cora, GAT hidden)", (2708, 64))):
        x, grad = torch.randn(*shape, requires_grad=True), torch.randn(*shape)
        t = timeit_interleaved({"ours": lambda: OURS_DROPOUT(x, 0.1, True).backward(grad),
                                "torch": lambda: F.dropout(x, 0.1, True).backward(grad)})
        rows.append((label, threads, t["ours"], t["torch"]))
    return rows


def fit_seconds(arch, smiles, y, epochs, masks):
    gfn.dropout = OURS_DROPOUT if masks == "ours" else torch_dropout
    try:
        model = MoleculePropertyPredictor(task="classification", arch=arch, epochs=epochs, progress=False,
                                          seed=0, **ARCHS[arch])
        t0 = time.perf_counter()
        model.fit(smiles, y)
        return time.perf_counter() - t0
    finally:
        gfn.dropout = OURS_DROPOUT


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--molecules", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rows += op_rows(threads)
    torch.set_num_threads(1)
    df = pd.read_csv(data_root(args.data) / "molecules" / "hiv.csv.gz").head(args.molecules)
    smiles, y = df["smiles"].tolist(), df[["HIV_active"]].to_numpy(float)
    train = []
    fit_seconds("gcn", smiles[:100], y[:100], 1, "ours")   # first-call costs (imports, allocator) out of the way
    for arch in ARCHS:
        times = {"ours": [], "torch": []}
        for _ in range(args.repeats):
            for masks in times:
                times[masks].append(fit_seconds(arch, smiles, y, args.epochs, masks))
        train.append((arch, statistics.median(times["ours"]), statistics.median(times["torch"])))
        print(arch, train[-1], flush=True)
    lines = ["## Dropout", "",
             f"`python benchmarks/dropout.py`. graphsci's native masks (counter-based, splitmix64) against "
             f"torch's `F.dropout`, p = 0.1, float32, forward + backward (graphsci stores no mask: the backward "
             f"regenerates it from the seed), timed in alternation; median ms. Ratio = torch / graphsci.", "",
             "| tensor | threads | graphsci | torch | ratio |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {th} | {o:.3f} | {t:.3f} | **{t / o:.1f}x** |" for label, th, o, t in rows]
    lines += ["", f"Training a molecule model, 1 thread: `MoleculePropertyPredictor` on the first {args.molecules} "
              f"HIV molecules (10% held out for validation), {args.epochs} epochs, dropout 0.1, featurisation "
              f"included; median of {args.repeats} fits each, alternated. Same seed, so the same batches.", "",
              "| architecture | graphsci masks (s) | torch masks (s) | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {o:.2f} | {t:.2f} | **{t / o:.2f}x** |" for a, o, t in train]
    write_section("dropout", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
