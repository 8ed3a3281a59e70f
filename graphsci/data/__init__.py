"""Datasets for the core: citation graphs for node classification."""
from graphsci.data.paths import data_root
from graphsci.data.planetoid import NodeDataset, load_planetoid

__all__ = ["NodeDataset", "load_planetoid", "data_root"]
