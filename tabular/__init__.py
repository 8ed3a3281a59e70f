"""graphsci.tabular: relational tables as graphs, graph propagation, and boosted smoothing
(GBDT + graph smoothing).

Installed from the top-level ``tabular/`` folder as ``graphsci.tabular``; it builds on the core
(:mod:`graphsci`) and on no other domain package.
"""
from graphsci.tabular.automl import AutoGluonSmoothing
from graphsci.tabular.boosting import BoostedSmoothing
from graphsci.tabular.features import PropagatedFeatures
from graphsci.tabular.datasets import DBLP_AREAS, TabularGraphData, load_county, load_dblp, load_house, random_splits
from graphsci.tabular.graphs import RelationalGraph, graph_from_edgelist, graph_from_tables, knn_graph
from graphsci.tabular.propagation import propagate

__all__ = ["propagate", "BoostedSmoothing", "AutoGluonSmoothing", "PropagatedFeatures", "knn_graph", "graph_from_edgelist", "graph_from_tables",
           "RelationalGraph", "load_county", "load_house", "load_dblp", "DBLP_AREAS", "random_splits", "TabularGraphData"]
