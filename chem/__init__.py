"""graphsci.chem: molecules (SMILES, SDF, RDKit Mol) as graphs and molecular property models.

Installed from the top-level ``chem/`` folder as ``graphsci.chem``; it builds on the core
(:mod:`graphsci`) and on no other domain package.
"""
