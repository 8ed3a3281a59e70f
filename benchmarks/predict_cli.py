"""Command-line prediction: ``graphsci predict`` with the bundled ESOL model against
``chemprop predict`` with a chemprop model of default size, on the first 10,000 rows of
hiv.csv.gz (chemprop gets only the valid rows: it stops at an invalid one), both as fresh
processes in this one run, start-up included. Then the peak memory of ``graphsci predict`` on a
long input (real SMILES repeated) at several lengths, to show it stays flat.
Writes the "predict_cli" section of RESULTS.md.

    python benchmarks/predict_cli.py                     # 10k timing + 1,000,000-row memory run
    python benchmarks/predict_cli.py --long-rows 100000 300000
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rdkit import Chem, RDLogger

from graphsci.data import data_root
from graphsci.zoo import model_info

sys.path.insert(0, str(Path(__file__).parent))
from _results import write_section  # noqa: E402

RDLogger.DisableLog("rdApp.*")


def exe(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        raise SystemExit(f"{name} not found next to {sys.executable}")
    return found


def timed(cmd) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-2000:]}")
    return seconds, proc


def peak_rss_mb(cmd) -> tuple[float, float]:
    """Wall time and peak resident memory (MB) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, _, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    return seconds, usage.ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--long-rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args(argv)
    root = data_root(args.data)
    tmp = Path(tempfile.mkdtemp(prefix="graphsci-predict-"))
    hiv = pd.read_csv(root / "molecules" / "hiv.csv.gz", nrows=args.rows)
    hiv.to_csv(tmp / "hiv.csv", index=False)
    valid = hiv[[Chem.MolFromSmiles(s) is not None for s in hiv["smiles"]]]
    valid.to_csv(tmp / "hiv_valid.csv", index=False)

    # A chemprop model of default size (hidden 300, depth 3, FFN 300): its predict time does not
    # depend on how long it was trained.
    esol = root / "molecules" / "esol_delaney.csv"
    timed([exe("chemprop"), "train", "-i", esol, "-s", "smiles", "--target-columns", "logp", "-t",
           "regression", "-o", tmp / "cp", "--epochs", "3", "--accelerator", "cpu", "--devices", "1", "-q"])
    model_pt = sorted((tmp / "cp").rglob("best*.pt"))[0]

    ours_cmd = [exe("graphsci"), "predict", "esol", tmp / "hiv.csv", "-o", tmp / "ours.csv"]
    cp_cmd = [exe("chemprop"), "predict", "-i", tmp / "hiv_valid.csv", "-s", "smiles", "--model-paths",
              model_pt, "-o", tmp / "cp_preds.csv", "--accelerator", "cpu", "--devices", "1"]
    ours_t, cp_t = [], []
    for _ in range(args.reps):          # alternated, so drift in the host's speed hits both
        ours_t.append(timed(ours_cmd)[0])
        cp_t.append(timed(cp_cmd)[0])
    out = pd.read_csv(tmp / "ours.csv", keep_default_na=False)
    n_err = int((out["error"] != "").sum())
    assert len(out) == len(hiv) and out["smiles"].tolist() == hiv["smiles"].tolist()
    ours, cp = min(ours_t), min(cp_t)

    params = model_info("esol")["card"]["params"]
    lines = [f"`graphsci predict esol` (bundled D-MPNN ensemble of {params['n_models']}, hidden {params['hidden']}, "
             f"uncertainty on) on the first "
             f"{len(hiv):,} rows of hiv.csv.gz, against `chemprop predict` (chemprop 2.3.1, one model of "
             f"default size) on the {len(valid):,} valid rows; fresh processes, best of {args.reps}, "
             f"start-up included.", "",
             "| command | rows | wall time (s) | ratio |", "|---|---|---|---|",
             f"| graphsci predict | {len(hiv):,} ({n_err} with a per-row error) | {ours:.1f} | {cp / ours:.1f}x faster |",
             f"| chemprop predict | {len(valid):,} | {cp:.1f} | 1.0x |", ""]

    if args.long_rows:
        base = pd.read_csv(root / "molecules" / "lipophilicity.csv")[["smiles"]]
        lines += ["Peak resident memory of `graphsci predict esol` (real SMILES from lipophilicity.csv "
                  "repeated, 10,000-row chunks):", "", "| rows | wall time (s) | peak RSS (MB) |", "|---|---|---|"]
        for n in args.long_rows:
            path = tmp / f"long_{n}.csv"
            reps = -(-n // len(base))
            pd.concat([base] * reps, ignore_index=True).head(n).to_csv(path, index=False)
            seconds, rss = peak_rss_mb([exe("graphsci"), "predict", "esol", path, "-o", tmp / "long_out.csv"])
            got = sum(1 for _ in open(tmp / "long_out.csv")) - 1
            assert got == n, f"{got} rows written for {n}"
            lines.append(f"| {n:,} | {seconds:.0f} | {rss:.0f} |")
            path.unlink()
        lines.append("")
    lines.append(f"Command: `python benchmarks/predict_cli.py --rows {args.rows} --long-rows "
                 f"{' '.join(map(str, args.long_rows))}` (2-core CPU, OMP_NUM_THREADS=2).")
    print("\n".join(lines))
    write_section("predict_cli", "## Command-line prediction\n\n" + "\n".join(lines))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
