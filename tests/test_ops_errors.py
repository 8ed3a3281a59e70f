"""Bad input is a ValueError that names the argument, before anything reaches native code."""
import pytest
import torch

import graphsci as gs
from graphsci import ops
from graphsci import _native

G = gs.Graph([0, 1, 2], [1, 2, 0])
X = torch.randn(3, 4)
E = torch.randn(3)


@pytest.mark.parametrize("call,match", [
    (lambda: ops.spmm(G, torch.randn(4, 4)), "x has 4 rows"),
    (lambda: ops.spmm(G, X, torch.randn(5), "u_mul_e"), "e has 5 rows"),
    (lambda: ops.spmm(G, X.long()), "x must be a floating-point"),
    (lambda: ops.spmm(G, X, E.double(), "u_mul_e"), "same dtype"),
    (lambda: ops.spmm(G, X, op="u_mul_v"), "unknown op"),
    (lambda: ops.spmm(G, X, reduce="prod"), "unknown reduce"),
    (lambda: ops.spmm(G, X, op="u_mul_e"), "needs edge features e"),
    (lambda: ops.spmm(G, None, E, "u_add_e"), "needs node features x"),
    (lambda: ops.spmm(G, torch.randn(3, 2, 4), torch.randn(3, 3, 1), "u_mul_e"), "heads"),
    (lambda: ops.spmm(G, X, torch.randn(3, 3), "u_mul_e"), "features"),
    (lambda: ops.spmm("graph", X), "graphsci.Graph"),
    (lambda: ops.spmm(G, X.numpy()), "torch.Tensor"),
    (lambda: ops.spmm(G, X, reduce="sum", return_arg=True), "return_arg"),
    (lambda: ops.sddmm(G, X, X, "dot", "u", "w"), "unknown rhs_target"),
    (lambda: ops.sddmm(G, X, torch.randn(2, 4), "dot"), "rhs has 2 rows"),
    (lambda: ops.sddmm(G, X, None, "add"), "needs rhs"),
    (lambda: ops.sddmm(G, X, X, "pow"), "unknown op"),
    (lambda: ops.edge_softmax(G, torch.randn(4)), "scores has 4 rows"),
    (lambda: ops.edge_softmax(G, torch.ones(3, dtype=torch.int64)), "floating-point"),
    (lambda: ops.segment_reduce(X, [1, 1]), "lengths sum to 2"),
    (lambda: ops.segment_reduce(X, [4, -1]), "non-negative"),
    (lambda: ops.segment_reduce(X, [1.5, 1.5]), "lengths"),
    (lambda: ops.segment_reduce(X, torch.tensor([1.0, 2.0])), "integers"),
    (lambda: ops.segment_reduce(X, [3], "median"), "unknown reduce"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_native_kernels_check_shapes_themselves():
    """Even a direct call with inconsistent arrays is refused, not read out of bounds."""
    C = _native._C
    indptr = torch.tensor([0, 1, 2], dtype=torch.int32)
    indices = torch.tensor([1, 0], dtype=torch.int32)
    with pytest.raises(ValueError):
        C.spmm(indptr, indices, None, torch.randn(2, 1, 3), None, torch.empty(3, 1, 3), None,
               "copy_lhs", "sum", 1)
    with pytest.raises(ValueError):
        C.spmm(torch.tensor([0, 5, 2], dtype=torch.int32), indices, None, torch.randn(2, 1, 3),
               None, torch.empty(2, 1, 3), None, "copy_lhs", "sum", 1)
    with pytest.raises(ValueError):
        C.spmm(indptr, indices.long(), None, torch.randn(2, 1, 3), None, torch.empty(2, 1, 3),
               None, "copy_lhs", "sum", 1)
    with pytest.raises(ValueError):
        C.spmm(indptr, indices, None, torch.randn(2, 1, 3), None, torch.empty(2, 1, 3), None,
               "copy_lhs", "max", 1)
    with pytest.raises(ValueError):
        C.segment_reduce(torch.tensor([0, 3, 2]), torch.randn(2, 1), torch.empty(2, 1), None, "sum", 1)
    with pytest.raises(ValueError):
        C.edge_softmax_forward(indptr, indices, torch.randn(3, 1), torch.empty(3, 1), 1)
    with pytest.raises(TypeError):  # an output that would need a copy is refused, not copied
        C.degree(torch.arange(3), torch.zeros(6, dtype=torch.int64)[::2])
