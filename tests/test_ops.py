"""Every op against its pure-torch twin, and its native gradients with float64 gradcheck, on
random graphs (zero edges, isolated nodes, self-loops, multi-edges, batches with empty members)."""
import contextlib

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import graphsci as gs
from graphsci import ops
from conftest import batched_graphs, graphs, rand

SPMM_OPS = ["copy_u", "copy_e", "u_add_e", "u_sub_e", "u_mul_e", "u_div_e"]
REDUCERS = ["sum", "mean", "max", "min"]
SDDMM_OPS = ["add", "sub", "mul", "div", "dot", "copy_lhs", "copy_rhs"]

# (x shape, e shape) per layout, with N/E/H/D filled in below; covers the documented
# broadcasting: scalar per edge, per-feature, per-head scalars, full multi-head.
LAYOUTS = {
    "2d-scalar-edge": (("N", "D"), ("E",)),
    "2d-one-feature": (("N", 1), ("E",)),          # one value per node: the scalar fast path
    "2d-one-feature-col": (("N", 1), ("E", 1)),
    "2d-col-edge": (("N", "D"), ("E", 1)),
    "2d-full-edge": (("N", "D"), ("E", "D")),
    "3d-head-scalar": (("N", "H", "D"), ("E", "H")),
    "3d-head-scalar-1": (("N", "H", "D"), ("E", "H", 1)),
    "3d-full": (("N", "H", "D"), ("E", "H", "D")),
    "3d-x-broadcast-d": (("N", "H", 1), ("E", "H", "D")),
    "3d-shared-head": (("N", "H", "D"), ("E", 1, "D")),
}


def _shape(spec, N, E, H, D):
    return tuple({"N": N, "E": E, "H": H, "D": D}.get(s, s) for s in spec)


def _operands(g, layout, op, seed, width=3):
    xs, es = LAYOUTS[layout]
    x = rand(*_shape(xs, g.num_nodes, g.num_edges, 2, width), seed=seed)
    e = rand(*_shape(es, g.num_nodes, g.num_edges, 2, width), seed=seed + 1)
    if op == "u_div_e":  # keep divisors away from 0
        e = (e.detach().abs() + 0.5).requires_grad_()
    return (None if op == "copy_e" else x), (None if op == "copy_u" else e)


@given(g=st.one_of(graphs(), batched_graphs()), op=st.sampled_from(SPMM_OPS),
       reduce=st.sampled_from(REDUCERS), layout=st.sampled_from(sorted(LAYOUTS)),
       width=st.sampled_from([3, 0]), seed=st.integers(0, 2**16))
def test_spmm_matches_reference_and_gradcheck(g, op, reduce, layout, width, seed):
    # width 0: a feature axis of size 0 broadcasts against 1, as in numpy
    x, e = _operands(g, layout, op, seed, width)
    out = ops.spmm(g, x, e, op, reduce)
    with ops.native_disabled():
        ref = ops.spmm(g, x, e, op, reduce)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref)
    inputs = tuple(t for t in (x, e) if t is not None)

    def f(*args):
        it = iter(args)
        return ops.spmm(g, next(it) if x is not None else None, next(it) if e is not None else None, op, reduce)

    torch.autograd.gradcheck(f, inputs)
    # The native backward agrees with autograd through the reference twin.
    gout = torch.randn_like(out)
    native_grads = torch.autograd.grad(out, inputs, gout, allow_unused=True)
    ref_grads = torch.autograd.grad(ref, inputs, gout, allow_unused=True)
    for a, b in zip(native_grads, ref_grads):
        if a is not None or b is not None:
            torch.testing.assert_close(a if a is not None else torch.zeros_like(b),
                                       b if b is not None else torch.zeros_like(a))


@given(g=graphs(), op=st.sampled_from(SPMM_OPS), reduce=st.sampled_from(["max", "min"]),
       seed=st.integers(0, 2**16))
def test_spmm_arg_indices(g, op, reduce, seed):
    x, e = _operands(g, "2d-full-edge", op, seed)
    out, arg_u, arg_e = ops.spmm(g, x, e, op, reduce, return_arg=True)
    with ops.native_disabled():
        ref, ref_u, ref_e = ops.spmm(g, x, e, op, reduce, return_arg=True)
    assert torch.equal(arg_e, ref_e) and torch.equal(arg_u, ref_u)
    empty = g.in_degrees() == 0
    assert bool((arg_e[empty] == -1).all()) and bool((out[empty] == 0).all())
    has = arg_e >= 0
    assert torch.equal(g.dst[arg_e[has]], torch.nonzero(has)[:, 0])
    assert torch.equal(g.src[arg_e[has]], arg_u[has])


def _with_non_finite(shape, seed, dtype):
    """Random values with NaN, +inf and -inf planted at about a fifth of the positions."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=gen, dtype=dtype)
    special = torch.tensor([float("nan"), float("inf"), float("-inf")], dtype=dtype)
    pick = torch.randint(0, 15, shape, generator=gen)
    return torch.where(pick < 3, special[pick.clamp(max=2)], x)


# Width 70 runs the vectorised full-chunk path (64 floats or 32 doubles with AVX-512) and a
# scalar tail.
@given(g=st.one_of(graphs(), batched_graphs()), op=st.sampled_from(["copy_u", "u_add_e", "u_mul_e"]),
       reduce=st.sampled_from(["max", "min"]), width=st.sampled_from([3, 70]),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
def test_max_min_propagate_nan_and_infinities_as_torch(g, op, reduce, width, dtype, seed):
    # A NaN used to be dropped by the native max/min (a row of NaN came out as -inf).
    x = _with_non_finite((g.num_nodes, width), seed, dtype)
    e = None if op == "copy_u" else _with_non_finite((g.num_edges, width), seed + 1, dtype)
    out, arg_u, arg_e = ops.spmm(g, x, e, op, reduce, return_arg=True)
    with ops.native_disabled():
        ref, ref_u, ref_e = ops.spmm(g, x, e, op, reduce, return_arg=True)
    torch.testing.assert_close(out, ref, equal_nan=True)
    assert torch.equal(arg_e, ref_e) and torch.equal(arg_u, ref_u)
    lengths = [g.num_nodes // 2, g.num_nodes - g.num_nodes // 2]
    with ops.native_disabled():
        seg_ref = ops.segment_reduce(x, lengths, reduce)
    torch.testing.assert_close(ops.segment_reduce(x, lengths, reduce), seg_ref, equal_nan=True)
    scores = _with_non_finite((g.num_edges, 2), seed + 2, dtype)
    with ops.native_disabled():
        soft_ref = ops.edge_softmax(g, scores)
    torch.testing.assert_close(ops.edge_softmax(g, scores), soft_ref, equal_nan=True)


def test_a_nan_message_makes_the_max_nan():
    g = gs.Graph([0, 1, 2], [1, 1, 0], 3)
    x = torch.tensor([[float("nan"), 1.0], [2.0, 3.0], [float("-inf"), float("nan")]])
    out, arg_u, _ = ops.spmm(g, x, None, "copy_u", "max", return_arg=True)
    assert out[0, 0] == float("-inf") and arg_u[0, 0] == 2      # a row of -inf still has its arg
    assert out[1, 0].isnan() and arg_u[1, 0] == 0 and out[1, 1] == 3
    assert out[0, 1].isnan() and (out[2] == 0).all()
    assert ops.edge_softmax(g, torch.tensor([float("nan"), 1.0, 0.0]))[:2].isnan().all()


def _sddmm_operand(g, target, dims, seed):
    rows = g.num_edges if target == "e" else g.num_nodes
    shape = {1: (rows,), 2: (rows, 3), 3: (rows, 2, 3)}[dims]
    return rand(*shape, seed=seed)


@given(g=st.one_of(graphs(), batched_graphs()), op=st.sampled_from(SDDMM_OPS),
       lt=st.sampled_from("uve"), rt=st.sampled_from("uve"), dims=st.sampled_from([1, 2, 3]),
       seed=st.integers(0, 2**16))
def test_sddmm_matches_reference_and_gradcheck(g, op, lt, rt, dims, seed):
    a = _sddmm_operand(g, lt, dims, seed)
    b = _sddmm_operand(g, rt, dims, seed + 1)
    if op == "div":
        b = (b.detach().abs() + 0.5).requires_grad_()
    out = ops.sddmm(g, a, b, op, lt, rt)
    with ops.native_disabled():
        ref = ops.sddmm(g, a, b, op, lt, rt)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref)
    torch.autograd.gradcheck(lambda a, b: ops.sddmm(g, a, b, op, lt, rt), (a, b))


def test_one_value_per_node_in_gives_one_value_per_node_out():
    g = gs.Graph([0, 1, 2, 2], [1, 2, 0, 1])
    x, w = torch.randn(3), torch.rand(4)
    for op, args in (("copy_u", (x, None)), ("copy_e", (None, w)), ("u_mul_e", (x, w))):
        for native in (True, False):
            with ops.native_disabled() if not native else contextlib.nullcontext():
                out, arg_u, arg_e = ops.spmm(g, *args, op, "max", return_arg=True)
                assert out.shape == arg_u.shape == arg_e.shape == (3,)
                assert ops.spmm(g, *args, op, "sum").shape == (3,)
    assert ops.spmm(g, x, torch.rand(4, 5), "u_mul_e").shape == (3, 5)   # x broadcast along e's 5


def test_sddmm_shapes():
    g = gs.Graph([0, 1, 2], [1, 2, 0])
    q = torch.randn(3, 4, 8)
    assert ops.sddmm(g, q, q, "dot").shape == (3, 4, 1)
    assert ops.sddmm(g, torch.randn(3, 4), torch.randn(3, 4), "add").shape == (3, 4)
    assert ops.sddmm(g, torch.randn(3, 8), torch.randn(3, 8), "dot").shape == (3, 1)
    assert ops.sddmm(g, torch.randn(3), torch.randn(3), "mul").shape == (3,)
    assert ops.sddmm(g, torch.randn(3, 5), None, "copy_lhs", "v").shape == (3, 5)


@given(g=st.one_of(graphs(), batched_graphs()), heads=st.sampled_from([None, 1, 3]),
       seed=st.integers(0, 2**16))
def test_edge_softmax_matches_reference_and_gradcheck(g, heads, seed):
    shape = (g.num_edges,) if heads is None else (g.num_edges, heads)
    s = rand(*shape, seed=seed)
    out = ops.edge_softmax(g, s)
    with ops.native_disabled():
        ref = ops.edge_softmax(g, s)
    torch.testing.assert_close(out, ref)
    # Each node's incoming weights sum to one (per head), and to zero without incoming edges.
    sums = ops.spmm(g, e=out.detach().reshape(g.num_edges, heads or 1), op="copy_e")
    expect = (g.in_degrees() > 0).double().view(-1, 1).expand_as(sums)
    torch.testing.assert_close(sums, expect)
    torch.autograd.gradcheck(lambda s: ops.edge_softmax(g, s), (s,))


def test_edge_softmax_is_stable_and_handles_masked_rows():
    g = gs.Graph([0, 1, 2, 0], [2, 2, 2, 1])
    s = torch.tensor([1000.0, 999.0, -1000.0, float("-inf")])
    out = ops.edge_softmax(g, s)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:3].sum(), torch.tensor(1.0))
    assert out[3] == 0  # node 1's only incoming edge is masked out


@given(lengths=st.lists(st.integers(0, 4), min_size=1, max_size=6),
       reduce=st.sampled_from(REDUCERS), trailing=st.sampled_from([(), (3,), (2, 3)]),
       seed=st.integers(0, 2**16))
def test_segment_reduce_matches_reference_and_gradcheck(lengths, reduce, trailing, seed):
    x = rand(sum(lengths), *trailing, seed=seed)
    out = ops.segment_reduce(x, lengths, reduce)
    with ops.native_disabled():
        ref = ops.segment_reduce(x, lengths, reduce)
    assert out.shape == (len(lengths),) + trailing
    torch.testing.assert_close(out, ref)
    torch.autograd.gradcheck(lambda x: ops.segment_reduce(x, lengths, reduce), (x,))


def test_segment_reduce_readout_over_batch():
    b = gs.batch([gs.Graph([0], [1], 2), gs.Graph([], [], 0), gs.Graph([], [], 3)])
    x = torch.arange(5.0).view(5, 1)
    assert ops.segment_reduce(x, b.batch_num_nodes, "sum").flatten().tolist() == [1.0, 0.0, 9.0]
    assert ops.segment_reduce(x, b.batch_num_nodes, "max").flatten().tolist() == [1.0, 0.0, 4.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64_native(dtype):
    g = gs.Graph([0, 1, 2, 2], [1, 2, 0, 1])
    x = torch.randn(3, 4, dtype=dtype)
    e = torch.randn(4, dtype=dtype)
    for op in SPMM_OPS:
        out = ops.spmm(g, x, e, op, "sum")
        assert out.dtype == dtype
        with ops.native_disabled():
            torch.testing.assert_close(out, ops.spmm(g, x, e, op, "sum"))


def _big_graph(seed=0, n=3000, m=40000):
    gen = torch.Generator().manual_seed(seed)
    return gs.Graph(torch.randint(0, n, (m,), generator=gen), torch.randint(0, n, (m,), generator=gen), n)


def test_bitwise_identical_for_1_and_2_threads(threads):
    g = _big_graph()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(g.num_nodes, 32, generator=gen, requires_grad=True)
    e = torch.randn(g.num_edges, 4, generator=gen, requires_grad=True)
    xh = x.view(-1, 4, 8)

    def run():
        outs = [ops.spmm(g, x, None, "copy_u", r) for r in REDUCERS]
        outs.append(ops.spmm(g, xh, e, "u_mul_e", "sum"))
        outs.append(ops.edge_softmax(g, e))
        outs.append(ops.sddmm(g, xh, xh, "dot"))
        outs.append(ops.segment_reduce(x, [1000, 0, 2000], "mean"))
        loss = sum((o * torch.linspace(0, 1, o.numel()).view(o.shape)).sum() for o in outs)
        grads = torch.autograd.grad(loss, (x, e))
        return [o.detach() for o in outs] + list(grads)

    torch.set_num_threads(1)
    one = run()
    torch.set_num_threads(2)
    two = run()
    for a, b in zip(one, two):
        assert torch.equal(a, b)


@pytest.mark.parametrize("reduce", REDUCERS)
def test_inference_path_equals_autograd_path(reduce):
    """Without grad the ops skip the autograd.Function; both paths give the same numbers."""
    g = _big_graph(n=50, m=300)
    x = torch.randn(50, 2, 4, dtype=torch.float64)
    e = torch.rand(300, 2, dtype=torch.float64) + 0.5
    calls = [
        lambda x, e: ops.spmm(g, x, e, "u_div_e", reduce),
        lambda x, e: ops.sddmm(g, x, e, "mul", "u", "e"),
        lambda x, e: ops.edge_softmax(g, e),
        lambda x, e: ops.segment_reduce(x, [20, 0, 30], reduce),
    ]
    for call in calls:
        with torch.no_grad():
            plain = call(x, e)
        tracked = call(x.clone().requires_grad_(), e.clone().requires_grad_())
        assert tracked.requires_grad
        assert torch.equal(plain, tracked.detach())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_run_on_the_reference_twins():
    """CUDA tensors are not covered by the native core: every op falls back to its twin and
    agrees with the CPU result."""
    g = _big_graph(n=60, m=400)
    x = torch.randn(60, 2, 4, dtype=torch.float64, requires_grad=True)
    e = torch.rand(400, 2, dtype=torch.float64) + 0.5
    gc, xc, ec = g.to("cuda"), x.detach().cuda().requires_grad_(), e.cuda()
    for f in (lambda g, x, e: ops.spmm(g, x, e, "u_mul_e", "max"),
              lambda g, x, e: ops.sddmm(g, x, x, "dot"),
              lambda g, x, e: ops.edge_softmax(g, e),
              lambda g, x, e: ops.segment_reduce(x, [20, 40], "mean")):
        cpu, gpu = f(g, x, e), f(gc, xc, ec)
        assert gpu.is_cuda
        torch.testing.assert_close(gpu.cpu(), cpu.detach())
        gpu.sum().backward()
    assert xc.grad is not None and xc.grad.is_cuda
