"""GNN layers as thin ``torch.nn.Module``s over :mod:`graphsci.ops`. Each forward is a few lines
of ops, so a new layer is written the same way (see ``notebooks/05_message_passing.ipynb``)."""
from graphsci.nn import functional
from graphsci.nn.edgeconv import EdgeMessageConv
from graphsci.nn.functional import Dropout
from graphsci.nn.gat import GATConv
from graphsci.nn.gcn import GCNConv
from graphsci.nn.gin import GINConv
from graphsci.nn.nnconv import NNConv
from graphsci.nn.readout import (AttentionReadout, MaxReadout, MeanReadout, NormReadout, Set2Set, SumReadout,
                                 segment_softmax)
from graphsci.nn.sage import SAGEConv

__all__ = ["GCNConv", "SAGEConv", "GATConv", "GINConv", "NNConv", "EdgeMessageConv", "SumReadout", "NormReadout",
           "MeanReadout", "MaxReadout", "AttentionReadout", "Set2Set", "segment_softmax", "Dropout", "functional"]
