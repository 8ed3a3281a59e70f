"""graphsci's dropout: the native kernel against its numpy twin (bit for bit), its statistics,
gradients, and the paths that fall back to torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.dlpack import to_dlpack

from graphsci import _native
from graphsci import nn as gnn
from graphsci.nn.functional import dropout

pytestmark = pytest.mark.skipif(not _native.available(), reason="native extension not built")

GOLDEN, MIX1, MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def twin_mask(n, seed, threshold, scale, dtype):
    """Element i keeps (value ``scale``) when the high half of splitmix64's i-th output from
    ``seed`` is >= threshold."""
    z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    z ^= z >> np.uint64(31)
    draw = (z >> np.uint64(32)).astype(np.uint32)
    return np.where(draw >= np.uint32(threshold), scale, 0.0).astype(dtype)


def native_mask(n, seed, threshold, scale, dtype, nthreads=1):
    """The kernel applied to ones: its mask."""
    out = torch.full((n,), -1.0, dtype=dtype)
    _native._C.dropout(to_dlpack(torch.ones(n, dtype=dtype)), to_dlpack(out), seed, threshold, scale, nthreads)
    return out.numpy()


def test_twin_is_splitmix64():
    # splitmix64 seeded with 0 starts 0xE220A8397B1DCDAF (Vigna's reference implementation).
    assert twin_mask(1, 0, 0xE220A839, 1.0, np.float64)[0] == 1.0
    assert twin_mask(1, 0, 0xE220A83A, 1.0, np.float64)[0] == 0.0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 20_000), seed=st.integers(0, 2**64 - 1), threshold=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_native_mask_equals_twin(n, seed, threshold, dtype):
    scale = 1.0 / (1.0 - threshold / 2**32)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    np.testing.assert_array_equal(native_mask(n, seed, threshold, scale, dtype),
                                  twin_mask(n, seed, threshold, scale, np_dtype))


def test_mask_is_the_same_for_any_thread_count():
    n = 300_001   # many blocks and a partial last one
    one = native_mask(n, 12345, 2**31, 2.0, torch.float32, nthreads=1)
    np.testing.assert_array_equal(one, native_mask(n, 12345, 2**31, 2.0, torch.float32, nthreads=2))
    np.testing.assert_array_equal(one, native_mask(n, 12345, 2**31, 2.0, torch.float32, nthreads=7))


def test_native_kernel_rejects_bad_buffers():
    x = torch.zeros(4)
    for bad_x, bad_out in ((x, torch.zeros(4, dtype=torch.int64)), (x.double(), torch.zeros(4)),
                           (x, torch.zeros(5)), (x, x)):
        with pytest.raises((TypeError, ValueError, RuntimeError)):
            _native._C.dropout(to_dlpack(bad_x), to_dlpack(bad_out), 1, 2, 1.0, 1)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_scale_and_independence(p):
    torch.manual_seed(0)
    x = torch.ones(1000, 1000)
    y = dropout(x, p)
    kept = (y != 0).double()
    # The kept share within 5 standard deviations of 1 - p, overall and in every row and column
    # block (a periodic or strided defect would show there), and no correlation between
    # neighbouring elements.
    sd = (p * (1 - p) / x.numel()) ** 0.5
    assert abs(kept.mean().item() - (1 - p)) < 5 * sd
    blocks = kept.view(10, 100, 10, 100).mean((1, 3))
    assert (blocks - (1 - p)).abs().max().item() < 5 * (p * (1 - p) / 10_000) ** 0.5
    flat = kept.flatten() - (1 - p)
    corr = (flat[1:] * flat[:-1]).mean() / flat.var()
    assert abs(corr.item()) < 5 / x.numel() ** 0.5
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(1 / (1 - p))))
    assert abs(y.mean().item() - 1.0) < 5 * sd / (1 - p)


def test_seeded_by_torch_and_fresh_each_call():
    x = torch.randn(64, 33)
    torch.manual_seed(7)
    a, b = dropout(x, 0.5), dropout(x, 0.5)
    torch.manual_seed(7)
    assert torch.equal(a, dropout(x, 0.5))
    assert not torch.equal(a, b)


def test_gradients():
    x = torch.randn(20, 7, dtype=torch.float64, requires_grad=True)

    def fixed_mask(t):
        torch.manual_seed(3)
        return dropout(t, 0.4)

    assert torch.autograd.gradcheck(fixed_mask, (x,))
    assert torch.autograd.gradgradcheck(fixed_mask, (x,))
    y = fixed_mask(x)
    y.backward(torch.ones_like(y))
    expected = (fixed_mask(torch.ones_like(x)) != 0).double() / 0.6
    assert torch.allclose(x.grad, expected)


def test_nan_and_inf_stay_nan_where_dropped_like_torch():
    x = torch.full((1000,), float("nan"))
    x[::2] = float("inf")
    y = dropout(x, 0.5)
    assert torch.isnan(y[1::2]).all()
    assert (torch.isinf(y[::2]) | torch.isnan(y[::2])).all() and torch.isnan(y[::2]).any()


def test_identity_and_edge_cases():
    x = torch.randn(5, 4)
    assert dropout(x, 0.0) is x
    assert dropout(x, 0.7, training=False) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    assert dropout(torch.empty(0, 4), 0.5).shape == (0, 4)
    noncontig = torch.randn(6, 8).t()
    assert dropout(noncontig, 0.5).shape == (8, 6)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout probability"):
            dropout(x, bad)
        with pytest.raises(ValueError, match="dropout probability"):
            gnn.Dropout(bad)


def test_other_dtypes_and_disabled_native_use_torch():
    x = torch.ones(100, 100, dtype=torch.bfloat16)
    y = dropout(x, 0.5)
    assert y.dtype == torch.bfloat16 and set(torch.unique(y).tolist()) <= {0.0, 2.0}
    x = torch.ones(10_000)
    torch.manual_seed(1)
    expected = torch.nn.functional.dropout(x, 0.3)
    with _native.disabled():
        torch.manual_seed(1)
        assert torch.equal(dropout(x, 0.3), expected)


def test_sparse_values():
    dense = torch.zeros(50, 40)
    dense[::3, ::2] = 1.0
    y = dropout(dense.to_sparse(), 0.5)
    assert y.is_sparse and y._nnz() == dense.to_sparse()._nnz()
    values = y.coalesce().values()
    assert set(torch.unique(values).tolist()) <= {0.0, 2.0}


def test_module_follows_train_and_eval():
    layer = gnn.Dropout(0.5)
    x = torch.ones(200, 50)
    assert (layer(x) == 0).any()
    layer.eval()
    assert layer(x) is x
    assert "p=0.5" in repr(layer)
