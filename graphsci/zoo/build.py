"""Trains the bundled zoo from ../shared/data with fixed seeds (``make zoo``).

Each molecule model: the architecture that did best on its dataset in benchmarks/MOLECULENET.md,
as an ensemble (its spread is the uncertainty; HIV's is blended with a fingerprint GBDT), trained on the scaffold split's train part, stopped on
its validation part, scored on its test part. Writes graphsci/zoo/models/<name>/ and the
registry with the checksums of every file. Protein models (KLIFS pockets, HIV-1 protease) are
geometric GNN ensembles on stratified 80/10/10 splits (benchmarks/PROTEINS.md).

    python -m graphsci.zoo.build                 # every model
    python -m graphsci.zoo.build esol bbbp       # some of them (the others stay as they are)
    python -m graphsci.zoo.build --readme        # only rewrite README.md's zoo table
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd
from rdkit import Chem, rdBase

from graphsci.chem import FingerprintGBDT, MoleculeBlend, MoleculePropertyPredictor
from graphsci.chem.splits import scaffold_split, stratified_split
from graphsci.data import data_root
from graphsci.zoo.store import sha256

SEED = 0
MAX_BYTES = 3 * 2 ** 20
# name: file, {source column: (target name, units)} (None: every column, unitless), task,
# description, estimator parameters
SPECS = {
    # The command line's default model. Two full-width members with the "norm" readout: test
    # RMSE 0.835 where the earlier narrow mean-readout ensemble (hidden 96) had 1.115, at a
    # third of its prediction speed (about 330 against 970 molecules/s on one thread); without
    # RDKit descriptors, which would cost another 5 ms per molecule.
    "esol": ("esol_delaney.csv", {"logp": ("log_solubility", "log10(mol/L)")}, "regression",
             "aqueous solubility (ESOL; Delaney 2004)", {"readout": "norm", "hidden": 300, "ffn_hidden": 300,
                                                         "n_models": 2}),
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
            # 41k molecules: kept to a CPU budget. Blended with a fingerprint GBDT, which on this
            # split ranks better than the D-MPNN (benchmarks/MOLECULENET.md).
            {"epochs": 15, "n_models": 2, "hidden": 150, "with_gbdt": True}),
}
# The bundled models were built with the mean readout, before "norm" became the default; kept so
# that `make zoo` rebuilds what is bundled.
ENSEMBLE = {"arch": "dmpnn", "hidden": 200, "n_models": 3, "readout": "mean"}


# Protein models: name -> (description, estimator parameters); the data loading is per model.
PROTEIN_SPECS = {
    "klifs_dfg": ("kinase pocket conformation: probability DFG-out (vs DFG-in) from the 85 KLIFS pocket "
                  "Calpha coordinates", {"hidden": 32, "depth": 3, "batch_size": 32, "epochs": 30}),
    "protease_flap": ("HIV-1 protease flap state: probability open (vs closed) from a PDB/mmCIF structure",
                      {"hidden": 32, "depth": 3, "batch_size": 8, "epochs": 30, "readout": "max", "lr": 3e-3}),
}


def build_protein(name: str, root: Path, zoo: Path) -> dict:
    from graphsci.protein.datasets import load_klifs, load_protease
    from graphsci.protein.predictor import ProteinPropertyPredictor

    description, params = PROTEIN_SPECS[name]
    if name == "klifs_dfg":
        data = load_klifs(root)
        items, y, target, dataset = data.graphs, data.y, "dfg_out", "klifs_kinase_pocket_ca"
        extra = {"input": "klifs_pocket_ca"}
    else:
        df = load_protease(root)
        items, y, target, dataset = df["path"].tolist(), df["flap_open"].to_numpy(), "flap_open", "hiv1_protease_states"
        extra = {"input": "structure"}
    train, val, test = stratified_split(y, (0.8, 0.1, 0.1), SEED)
    pick = lambda idx: [items[i] for i in idx]  # noqa: E731
    model = ProteinPropertyPredictor(task="classification", n_models=3, seed=SEED, **params)
    t0 = time.perf_counter()
    model.fit(pick(train), y[train].astype(float), target_names=[target],
              eval_set=(pick(val), y[val].astype(float)))
    seconds = time.perf_counter() - t0
    metrics = model.evaluate(pick(test), y[test])
    metrics.pop("invalid")
    folder = zoo / "models" / name
    shutil.rmtree(folder, ignore_errors=True)
    model.save(folder, {"name": name, "description": description,
                        "dataset": f"{dataset} (../shared/data/proteins/labelled)",
                        "split": "stratified 80/10/10, seed 0", "n_train": len(train), "n_val": len(val),
                        "n_test": len(test), "seed": SEED, "test_metrics": metrics,
                        "train_seconds": round(seconds, 1), "units": {target: "probability"}, **extra})
    return _registry_entry(name, folder, "classification", dataset, "stratified", metrics, description, [target])


def _registry_entry(name, folder, task, dataset, split, metrics, description, targets):
    files = sorted(f for f in folder.rglob("*") if f.is_file())     # a blend keeps its models in folders
    size = sum(f.stat().st_size for f in files)
    if size > MAX_BYTES:
        raise RuntimeError(f"{name}: its files are {size} bytes, over the {MAX_BYTES}-byte bundle limit")
    print(f"{name}: {metrics}, {size / 2**20:.2f} MiB")
    return {"task": task, "dataset": dataset, "split": split, "metrics": metrics,
            "description": description, "targets": targets,
            "files": {f.relative_to(folder).as_posix(): {"sha256": sha256(f), "size": f.stat().st_size}
                      for f in files}}


def build(name: str, root: Path, zoo: Path) -> dict:
    if name in PROTEIN_SPECS:
        return build_protein(name, root, zoo)
    file, columns, task, description, params = SPECS[name]
    df = pd.read_csv(root / "molecules" / file)
    columns = columns or {c: (c, "probability") for c in df.columns if c != "smiles"}
    df = df.rename(columns={c: t for c, (t, _) in columns.items()})
    targets = [t for t, _ in columns.values()]
    with rdBase.BlockLogs():
        df = df[[Chem.MolFromSmiles(s) is not None for s in df["smiles"]]].reset_index(drop=True)
    train, val, test = scaffold_split(df["smiles"].tolist(), (0.8, 0.1, 0.1))
    params = {**ENSEMBLE, **params}
    with_gbdt = params.pop("with_gbdt", False)
    model = MoleculePropertyPredictor(task=task, seed=SEED, **params)
    if with_gbdt:
        model = MoleculeBlend([model, FingerprintGBDT(task=task, seed=SEED)])
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
    print(f"{name}: trained in {seconds:.0f} s")
    return _registry_entry(name, folder, task, file, "scaffold", metrics, description, targets)


README_START, README_END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"


def readme_table(zoo: Path) -> str:
    """The README's zoo table, from the registry and each bundled model's card."""
    registry = json.loads((zoo / "registry.json").read_text())["models"]
    rows = ["| model | task | predicts | data | split | test metric |", "|---|---|---|---|---|---|"]
    for name, entry in registry.items():
        card = json.loads((zoo / "models" / name / "card.json").read_text())
        meta = card.get("metadata", {})
        units = meta.get("units", {})
        targets = entry["targets"]
        what = (f"{targets[0]} ({units.get(targets[0], '')})" if len(targets) == 1
                else f"{len(targets)} tasks ({units.get(targets[0], '')})")
        metric = ", ".join(f"{k.replace('_', '-').upper() if k != 'r2' else 'R²'} {v:.3f}"
                           for k, v in entry["metrics"].items())
        rows.append(f"| `{name}` | {entry['task']} | {what} | {meta.get('dataset', entry['dataset']).split(' (')[0]} | "
                    f"{meta.get('split', entry['split'])} | {metric} |")
    return "\n".join(rows)


def update_readme(zoo: Path, readme: Path) -> None:
    text = readme.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    readme.write_text(text[:start] + "\n" + readme_table(zoo) + "\n" + text[end:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"models to build (default all: {', '.join([*SPECS, *PROTEIN_SPECS])})")
    parser.add_argument("--data", default=None)
    parser.add_argument("--zoo", type=Path, default=Path("graphsci/zoo"),
                        help="the source tree's zoo folder (default: graphsci/zoo, run from the repo root)")
    parser.add_argument("--readme", action="store_true", help="only rewrite the zoo table in README.md")
    args = parser.parse_args(argv)
    if args.readme:
        update_readme(args.zoo, args.zoo.parent.parent / "README.md")
        return
    known = [*SPECS, *PROTEIN_SPECS]
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(known)}")
    if not (args.zoo / "store.py").is_file():
        parser.error(f"{args.zoo} is not graphsci's zoo source folder; run from the repository root or give --zoo")
    registry_file = args.zoo / "registry.json"
    registry = json.loads(registry_file.read_text()) if registry_file.exists() else {"models": {}}
    for name in args.names or known:
        registry["models"][name] = build(name, data_root(args.data), args.zoo)
        registry_file.write_text(json.dumps(registry, indent=2) + "\n")
    readme = args.zoo.parent.parent / "README.md"
    if readme.is_file() and README_START in readme.read_text():
        update_readme(args.zoo, readme)


if __name__ == "__main__":
    main()
