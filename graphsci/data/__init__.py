"""Datasets for the core: citation graphs for node classification, and datasets of small graphs
with the collate that batches them. Names load on first use: the citation-graph readers need
scipy.sparse, which a prediction never does."""
from importlib import import_module

_WHERE = {"graphsci.data.graphs": ["GraphDataset", "GraphSample", "collate"],
          "graphsci.data.npz": ["load_npz_graph"],
          "graphsci.data.paths": ["data_root"],
          "graphsci.data.planetoid": ["NodeDataset", "load_planetoid"],
          "graphsci.data.tu": ["load_tu"]}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'graphsci.data' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
