"""graphsci.chem: molecules (SMILES, SDF, RDKit Mol) as graphs and molecular property models.

Installed from the top-level ``chem/`` folder as ``graphsci.chem``; it builds on the core
(:mod:`graphsci`) and on no other domain package. Names load on first use, so a featurisation
worker process that needs only :mod:`graphsci.chem.encoding` never imports torch.
"""
from graphsci._lazy import lazy_exports

_WHERE = {
    "graphsci.chem.datasets": ["InvalidRow", "MoleculeDataset", "from_smiles", "load_csv"],
    "graphsci.chem.features": ["ATOM_FEATURES", "ATOM_PRESETS", "BOND_FEATURES", "BOND_PRESETS",
                               "AtomFeaturizer", "BondFeaturizer"],
    "graphsci.chem.blend": ["MoleculeBlend"],
    "graphsci.chem.fingerprints": ["Fingerprints", "morgan_fingerprints"],
    "graphsci.chem.gbdt": ["FingerprintGBDT"],
    "graphsci.chem.outputs": ["MoleculeModel"],
    "graphsci.chem.predictor": ["MoleculePropertyPredictor"],
    "graphsci.chem.models": ["ARCHITECTURES", "MoleculeGNN"],
    "graphsci.chem.molgraph": ["Featurized", "InvalidMoleculeError", "MolGraph", "featurize", "mol_to_graph",
                               "mols_to_graphs", "parse_smiles", "smiles_to_graph"],
    "graphsci.chem.sdf": ["SdfRecord", "read_sdf", "sdf_records"],
    "graphsci.chem.splits": ["random_split", "scaffold", "scaffold_split", "split", "stratified_split"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)
