"""graphsci.chem: molecules (SMILES, SDF, RDKit Mol) as graphs and molecular property models.

Installed from the top-level ``chem/`` folder as ``graphsci.chem``; it builds on the core
(:mod:`graphsci`) and on no other domain package.
"""
from graphsci.chem.datasets import InvalidRow, MoleculeDataset, from_smiles, load_csv
from graphsci.chem.features import (ATOM_FEATURES, ATOM_PRESETS, BOND_FEATURES, BOND_PRESETS,
                                    AtomFeaturizer, BondFeaturizer)
from graphsci.chem.predictor import MoleculePropertyPredictor
from graphsci.chem.models import ARCHITECTURES, MoleculeGNN
from graphsci.chem.molgraph import (Featurized, InvalidMoleculeError, MolGraph, featurize,
                                    mol_to_graph, mols_to_graphs, parse_smiles, read_sdf,
                                    smiles_to_graph)
from graphsci.chem.splits import (random_split, scaffold, scaffold_split, split,
                                  stratified_split)

__all__ = ["AtomFeaturizer", "BondFeaturizer", "ATOM_FEATURES", "BOND_FEATURES", "ATOM_PRESETS",
           "BOND_PRESETS", "MolGraph", "InvalidMoleculeError", "Featurized", "featurize",
           "mol_to_graph", "mols_to_graphs", "smiles_to_graph", "parse_smiles", "read_sdf",
           "MoleculeDataset", "InvalidRow", "from_smiles", "load_csv", "random_split", "scaffold",
           "scaffold_split", "stratified_split", "split", "MoleculeGNN", "ARCHITECTURES", "MoleculePropertyPredictor"]
