"""Datasets for the core: citation graphs for node classification, and datasets of small graphs
with the collate that batches them. Names load on first use: the citation-graph readers need
scipy.sparse, which a prediction never does."""
from graphsci._lazy import lazy_exports

_WHERE = {"graphsci.data.graphs": ["GraphDataset", "GraphSample", "collate"],
          "graphsci.data.masks": ["node_mask"],
          "graphsci.data.npz": ["load_npz_graph"],
          "graphsci.data.paths": ["data_root"],
          "graphsci.data.planetoid": ["NodeDataset", "load_planetoid", "row_normalise"],
          "graphsci.data.tu": ["load_tu"]}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)
