"""graphsci.protein: protein structures (PDB/mmCIF) as residue contact graphs and protein
property models.

Installed from the top-level ``protein/`` folder as ``graphsci.protein``; it builds on the core
(:mod:`graphsci`) and on no other domain package.
"""
from graphsci.protein.features import FeatureLayout
from graphsci.protein.graphs import (ProteinGraph, contact_map, distance_map, graph_from_distance_map,
                                     residue_graph, residue_graph_from_coordinates)
from graphsci.protein.structure import Structure, StructureError, load_structure

__all__ = ["load_structure", "Structure", "StructureError", "residue_graph",
           "residue_graph_from_coordinates", "graph_from_distance_map", "distance_map",
           "contact_map", "ProteinGraph", "FeatureLayout"]
