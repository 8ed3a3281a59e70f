"""graphsci.protein: protein structures (PDB/mmCIF) as residue contact graphs and protein
property models.

Installed from the top-level ``protein/`` folder as ``graphsci.protein``; it builds on the core
(:mod:`graphsci`) and on no other domain package.
"""
