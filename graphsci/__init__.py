"""graphsci: graph machine learning for molecules, proteins and tables on a native-kernel core."""
from graphsci.graph import Graph, batch
from graphsci import nn, ops

__version__ = "0.1.0"
__all__ = ["Graph", "batch", "ops", "nn", "__version__"]
