"""graphsci: graph machine learning for molecules, proteins and tables on a native-kernel core."""
from importlib import import_module

__version__ = "0.1.0"
__all__ = ["Graph", "batch", "ops", "nn", "__version__"]

# torch loads on first use, not on ``import graphsci``: the command line answers --help and
# ``zoo list`` without paying torch's import time.
_LAZY = {"Graph": ("graphsci.graph", "Graph"), "batch": ("graphsci.graph", "batch"),
         "ops": ("graphsci.ops", None), "nn": ("graphsci.nn", None)}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'graphsci' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = import_module(module) if attr is None else getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
