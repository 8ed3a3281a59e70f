"""Trains the bundled zoo from ../shared/data with fixed seeds (``make zoo``).

Each model: the architecture that did best on its dataset in benchmarks/MOLECULENET.md, as an
ensemble (its spread is the uncertainty), trained on the scaffold split's train part, stopped on
its validation part, scored on its test part. Writes graphsci/zoo/models/<name>/ and the
registry with the checksums of every file.

    python -m graphsci.zoo.build                 # every model
    python -m graphsci.zoo.build esol bbbp       # some of them (the others stay as they are)
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd
from rdkit import Chem, rdBase

from graphsci.chem import MoleculePropertyPredictor
from graphsci.chem.splits import scaffold_split
from graphsci.data import data_root
from graphsci.zoo.store import sha256

SEED = 0
MAX_BYTES = 3 * 2 ** 20
# name: file, {source column: (target name, units)} (None: every column, unitless), task,
# description, estimator parameters
SPECS = {
    # Narrow (hidden 96): it is the command line's default model and must predict fast.
    "esol": ("esol_delaney.csv", {"logp": ("log_solubility", "log10(mol/L)")}, "regression",
             "aqueous solubility (ESOL; Delaney 2004)", {"hidden": 96, "ffn_hidden": 96}),
    "lipophilicity": ("lipophilicity.csv", {"lipo": ("logD7.4", "log units")}, "regression",
                      "octanol/water distribution coefficient at pH 7.4 (AstraZeneca, ChEMBL)", {}),
    "bbbp": ("bbbp.csv", {"p_np": ("bbb_penetration", "probability")}, "classification",
             "blood-brain barrier penetration (Martins et al. 2012)", {}),
    "tox21": ("tox21.csv", None, "classification",
              "12 Tox21 nuclear-receptor and stress-response assays (probability active)", {}),
    "sider": ("sider.csv", None, "classification",
              "27 side-effect system organ classes of marketed drugs (SIDER; probability)", {}),
    "hiv": ("hiv.csv.gz", {"HIV_active": ("hiv_active", "probability")}, "classification",
            "inhibition of HIV replication (DTP AIDS antiviral screen; probability active)",
            {"epochs": 15, "n_models": 2, "hidden": 150}),     # 41k molecules: kept to a CPU budget
}
ENSEMBLE = {"arch": "dmpnn", "hidden": 200, "n_models": 3}


def build(name: str, root: Path, zoo: Path) -> dict:
    file, columns, task, description, params = SPECS[name]
    df = pd.read_csv(root / "molecules" / file)
    columns = columns or {c: (c, "probability") for c in df.columns if c != "smiles"}
    df = df.rename(columns={c: t for c, (t, _) in columns.items()})
    targets = [t for t, _ in columns.values()]
    with rdBase.BlockLogs():
        df = df[[Chem.MolFromSmiles(s) is not None for s in df["smiles"]]].reset_index(drop=True)
    train, val, test = scaffold_split(df["smiles"].tolist(), (0.8, 0.1, 0.1))
    model = MoleculePropertyPredictor(task=task, seed=SEED, **{**ENSEMBLE, **params})
    t0 = time.perf_counter()
    model.fit(df["smiles"].iloc[train].tolist(), df[targets].iloc[train].to_numpy(), target_cols=targets,
              eval_set=(df["smiles"].iloc[val].tolist(), df[targets].iloc[val].to_numpy()))
    seconds = time.perf_counter() - t0
    metrics = model.evaluate(df["smiles"].iloc[test].tolist(), df[targets].iloc[test].to_numpy())
    metrics.pop("invalid")
    folder = zoo / "models" / name
    shutil.rmtree(folder, ignore_errors=True)
    model.save(folder, {
        "name": name, "description": description, "dataset": f"{file} (../shared/data/molecules)",
        "split": "scaffold 80/10/10 (Bemis-Murcko, largest scaffold sets to train)",
        "n_train": len(train), "n_val": len(val), "n_test": len(test), "seed": SEED,
        "test_metrics": metrics, "train_seconds": round(seconds, 1),
        "units": {t: u for t, u in columns.values()}})
    size = (folder / "model.safetensors").stat().st_size
    if size > MAX_BYTES:
        raise RuntimeError(f"{name}: weights are {size} bytes, over the {MAX_BYTES}-byte bundle limit")
    print(f"{name}: {metrics} in {seconds:.0f} s, {size / 2**20:.2f} MiB")
    return {"task": task, "dataset": file, "split": "scaffold", "metrics": metrics,
            "description": description, "targets": targets,
            "files": {f: {"sha256": sha256(folder / f), "size": (folder / f).stat().st_size}
                      for f in ("card.json", "model.safetensors")}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"models to build (default all: {', '.join(SPECS)})")
    parser.add_argument("--data", default=None)
    parser.add_argument("--zoo", type=Path, default=Path("graphsci/zoo"),
                        help="the source tree's zoo folder (default: graphsci/zoo, run from the repo root)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(SPECS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(SPECS)}")
    if not (args.zoo / "store.py").is_file():
        parser.error(f"{args.zoo} is not graphsci's zoo source folder; run from the repository root or give --zoo")
    registry_file = args.zoo / "registry.json"
    registry = json.loads(registry_file.read_text()) if registry_file.exists() else {"models": {}}
    for name in args.names or list(SPECS):
        registry["models"][name] = build(name, data_root(args.data), args.zoo)
        registry_file.write_text(json.dumps(registry, indent=2) + "\n")


if __name__ == "__main__":
    main()
