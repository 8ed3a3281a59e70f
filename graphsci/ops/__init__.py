"""Fused message-passing primitives. Each runs on the native CPU kernels when it can and on its
pure-torch twin in :mod:`graphsci.ops.reference` otherwise (CUDA tensors, other dtypes, or the
native path switched off with :func:`set_native` / ``GRAPHSCI_NATIVE=0``)."""
from graphsci._native import available as native_available
from graphsci._native import disabled as native_disabled
from graphsci._native import enabled as native_enabled
from graphsci._native import isa as native_isa
from graphsci._native import set_enabled as set_native
from graphsci.ops import reference
from graphsci.ops.edge_softmax import edge_softmax
from graphsci.ops.sddmm import sddmm
from graphsci.ops.segment import segment_reduce
from graphsci.ops.spmm import spmm

__all__ = ["spmm", "sddmm", "edge_softmax", "segment_reduce", "reference", "set_native",
           "native_enabled", "native_available", "native_disabled", "native_isa"]
