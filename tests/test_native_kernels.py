"""The kernels directly, for both index widths and both value types."""
import pytest
import torch

from graphsci import _native

C = _native._C


@pytest.mark.parametrize("itype", [torch.int32, torch.int64])
def test_coo_to_csr_and_degree(itype):
    row = torch.tensor([2, 0, 2, 1, 0], dtype=itype)
    col = torch.tensor([0, 1, 2, 3, 4], dtype=itype)
    indptr, indices, eids = (torch.empty(n, dtype=itype) for n in (4, 5, 5))
    C.coo_to_csr(row, col, 3, indptr, indices, eids)
    assert indptr.tolist() == [0, 2, 3, 5]
    assert eids.tolist() == [1, 4, 3, 0, 2]
    assert indices.tolist() == [1, 4, 3, 0, 2]
    deg = torch.zeros(3, dtype=torch.int64)
    C.degree(row, deg)
    assert deg.tolist() == [2, 1, 2]


@pytest.mark.parametrize("itype", [torch.int32, torch.int64])
@pytest.mark.parametrize("vtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_spmm_kernel_against_dense(itype, vtype, reduce):
    # dst-grouped rows: node 0 <- {1 (e0), 2 (e2)}, node 1 <- {}, node 2 <- {0 (e1)}
    indptr = torch.tensor([0, 2, 2, 3], dtype=itype)
    indices = torch.tensor([1, 2, 0], dtype=itype)
    eids = torch.tensor([0, 2, 1], dtype=itype)
    x = torch.tensor([[1.0, -1.0], [2.0, 5.0], [3.0, 4.0]], dtype=vtype).view(3, 1, 2)
    e = torch.tensor([10.0, 20.0, 30.0], dtype=vtype).view(3, 1, 1)
    out = torch.empty(3, 1, 2, dtype=vtype)
    arg = torch.empty(3, 1, 2, dtype=torch.int64) if reduce in ("max", "min") else None
    C.spmm(indptr, indices, eids, x, e, out, arg, "mul", reduce, 2)
    m0 = torch.stack([x[1, 0] * 10, x[2, 0] * 30])  # messages into node 0
    expect0 = {"sum": m0.sum(0), "mean": m0.mean(0), "max": m0.max(0).values, "min": m0.min(0).values}[reduce]
    torch.testing.assert_close(out[0, 0], expect0)
    assert out[1].abs().sum() == 0
    torch.testing.assert_close(out[2, 0], x[0, 0] * 20)
    if arg is not None:
        assert arg[1].tolist() == [[-1, -1]] and arg[2].tolist() == [[1, 1]]


def test_every_supported_instruction_set_agrees_with_the_reference():
    """Each per-ISA build of the kernels (baseline, AVX2, AVX-512 where the CPU has them) gives
    the reference twin's numbers."""
    import graphsci as gs
    from graphsci import ops

    gen = torch.Generator().manual_seed(0)
    g = gs.Graph(torch.randint(0, 40, (300,), generator=gen), torch.randint(0, 40, (300,), generator=gen), 45)
    x = torch.randn(45, 2, 37, generator=gen, dtype=torch.float64)  # 37: full chunks and a tail
    e = torch.rand(300, 2, 1, generator=gen, dtype=torch.float64) + 0.5
    before = C.isa()
    assert before == C.supported_isas()[0]
    try:
        for isa in C.supported_isas():
            C.set_isa(isa)
            assert ops.native_isa() == isa
            for op in ("copy_u", "u_mul_e", "u_div_e"):
                for reduce in ("sum", "mean", "max", "min"):
                    out = ops.spmm(g, x, e, op, reduce)
                    with ops.native_disabled():
                        torch.testing.assert_close(out, ops.spmm(g, x, e, op, reduce))
            with ops.native_disabled():
                ref = (ops.sddmm(g, x, x, "dot"), ops.edge_softmax(g, e), ops.segment_reduce(x, [20, 25], "max"))
            torch.testing.assert_close(ops.sddmm(g, x, x, "dot"), ref[0])
            torch.testing.assert_close(ops.edge_softmax(g, e), ref[1])
            torch.testing.assert_close(ops.segment_reduce(x, [20, 25], "max"), ref[2])
    finally:
        C.set_isa(before)
    with pytest.raises(ValueError, match="unknown instruction set"):
        C.set_isa("sse9")


def test_large_outputs_are_advised_huge_pages_and_stay_exact():
    """Outputs of 32 MiB and more get huge-page advice before the kernel's first touch, and sum/mean
    outputs of 16 MiB and more are written with streaming stores; neither changes a value, on any
    instruction set. The advice is refused harmlessly for a buffer without a whole aligned 2 MiB
    page."""
    import graphsci as gs
    from graphsci import ops
    from graphsci.ops import _raw

    assert C.advise_huge_pages(torch.empty(1000)) is False
    big = _raw._empty((40_000, 1, 256), torch.float32)
    assert big.shape == (40_000, 1, 256) and big.is_contiguous()
    gen = torch.Generator().manual_seed(1)
    g = gs.Graph(torch.randint(0, 40_000, (100_000,), generator=gen),
                 torch.randint(0, 40_000, (100_000,), generator=gen), 40_000)
    x = torch.randn(40_000, 256, generator=gen)
    with ops.native_disabled():
        expected = ops.spmm(g, x, reduce="mean")
    before, threads = C.isa(), torch.get_num_threads()
    try:
        for isa in C.supported_isas():
            C.set_isa(isa)
            torch.set_num_threads(2)
            out = ops.spmm(g, x, reduce="mean")  # 41 MB output, rows wider than one chunk
            assert out.numel() * out.element_size() >= _raw._HUGE_OUTPUT_BYTES
            torch.testing.assert_close(out, expected)
            torch.set_num_threads(1)
            assert torch.equal(ops.spmm(g, x, reduce="mean"), out)  # bitwise, any thread count
    finally:
        C.set_isa(before)
        torch.set_num_threads(threads)
