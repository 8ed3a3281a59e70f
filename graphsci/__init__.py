"""graphsci: graph machine learning for molecules, proteins and tables on a native-kernel core."""
from graphsci._lazy import lazy_exports

__version__ = "0.1.0"

# torch loads on first use, not on ``import graphsci``: the command line answers --help and
# ``zoo list`` without paying torch's import time.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {"graphsci.graph": ["Graph", "batch"],
                                                        "graphsci.ops": ["ops"], "graphsci.nn": ["nn"]})
__all__ = [*__all__, "__version__"]
