"""Datasets for the core: citation graphs for node classification, and datasets of small graphs
with the collate that batches them."""
from graphsci.data.graphs import GraphDataset, GraphSample, collate
from graphsci.data.npz import load_npz_graph
from graphsci.data.paths import data_root
from graphsci.data.planetoid import NodeDataset, load_planetoid
from graphsci.data.tu import load_tu

__all__ = ["NodeDataset", "load_planetoid", "load_npz_graph", "GraphDataset", "GraphSample",
           "collate", "load_tu", "data_root"]
