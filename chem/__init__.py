"""graphsci.chem: molecules (SMILES, SDF, RDKit Mol) as graphs and molecular property models.

Installed from the top-level ``chem/`` folder as ``graphsci.chem``; it builds on the core
(:mod:`graphsci`) and on no other domain package. Names load on first use, so a featurisation
worker process that needs only :mod:`graphsci.chem.encoding` never imports torch.
"""
from importlib import import_module

_WHERE = {
    "graphsci.chem.datasets": ["InvalidRow", "MoleculeDataset", "from_smiles", "load_csv"],
    "graphsci.chem.features": ["ATOM_FEATURES", "ATOM_PRESETS", "BOND_FEATURES", "BOND_PRESETS",
                               "AtomFeaturizer", "BondFeaturizer"],
    "graphsci.chem.predictor": ["MoleculePropertyPredictor"],
    "graphsci.chem.models": ["ARCHITECTURES", "MoleculeGNN"],
    "graphsci.chem.molgraph": ["Featurized", "InvalidMoleculeError", "MolGraph", "featurize", "mol_to_graph",
                               "mols_to_graphs", "parse_smiles", "read_sdf", "smiles_to_graph"],
    "graphsci.chem.splits": ["random_split", "scaffold", "scaffold_split", "split", "stratified_split"],
}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'graphsci.chem' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
