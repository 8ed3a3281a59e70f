"""Featurisation speed on the first 2000 molecules of lipophilicity.csv, single process, one run:
graphsci (SMILES -> graph, canonical atom + bond features), chemprop 2.3's default featurizer
(SMILES -> Mol -> MolGraph), DGL-LifeSci's smiles_to_bigraph with its canonical featurizers,
and bare ``Chem.MolFromSmiles`` as the floor. Writes the "featurize" section of RESULTS.md."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from rdkit import Chem, RDLogger

import graphsci
from graphsci.chem import featurize
from graphsci.data import data_root

sys.path.insert(0, str(Path(__file__).parent))
from _results import write_section  # noqa: E402

RDLogger.DisableLog("rdApp.*")


def rate(fn, n, reps=3):
    """Molecules per second: the median of ``reps`` timed runs."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args(argv)
    smiles = pd.read_csv(data_root(args.data) / "molecules" / "lipophilicity.csv")["smiles"].tolist()[:args.n]
    n = len(smiles)
    rates = {"Chem.MolFromSmiles (floor)": rate(lambda: [Chem.MolFromSmiles(s) for s in smiles], n),
             "graphsci canonical": rate(lambda: featurize(smiles, progress=False), n),
             "graphsci chemprop-style": rate(lambda: featurize(smiles, "chemprop", "chemprop", progress=False), n)}
    try:
        from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
        f = SimpleMoleculeMolGraphFeaturizer()
        rates["chemprop 2.3 default"] = rate(lambda: [f(Chem.MolFromSmiles(s)) for s in smiles], n)
    except ImportError as exc:
        print(f"chemprop not measured: {exc}")
    try:
        from dgllife.utils import CanonicalAtomFeaturizer, CanonicalBondFeaturizer, smiles_to_bigraph
        a, b = CanonicalAtomFeaturizer(), CanonicalBondFeaturizer()
        rates["DGL-LifeSci smiles_to_bigraph (canonical)"] = rate(
            lambda: [smiles_to_bigraph(s, node_featurizer=a, edge_featurizer=b) for s in smiles], n, reps=1)
    except ImportError as exc:
        print(f"DGL-LifeSci not measured: {exc}")
    ours = rates["graphsci canonical"]
    lines = ["## Featurisation", "",
             f"`python benchmarks/featurize.py{' ' + ' '.join(argv) if argv else ''}` (run by `make bench`): "
             f"first {n} SMILES of lipophilicity.csv, SMILES to graph, one process; graphsci "
             f"{graphsci.__version__}, RDKit {Chem.rdBase.rdkitVersion}.", "",
             "| featurizer | molecules / s | graphsci canonical speed-up |", "|---|---:|---:|"]
    for k, v in rates.items():
        lines.append(f"| {k} | {v:,.0f} | {ours / v:.2f}x |")
        print(f"{k:45s} {v:8.0f} mol/s   graphsci is {ours / v:.2f}x")
    write_section("featurize", "\n".join(lines))


if __name__ == "__main__":
    main()
