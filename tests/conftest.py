import os

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import graphsci as gs

# Derandomised so CI sees the same examples every run; the examples still cover empty graphs,
# isolated nodes, self-loops and multi-edges because the strategies below force them in.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@st.composite
def graphs(draw, max_nodes=9, max_edges=24, min_nodes=0):
    """Random directed multigraphs: zero edges, isolated nodes, self-loops and repeated edges
    all occur (a self-loop and a duplicate edge are planted when the graph has edges)."""
    n = draw(st.integers(min_nodes, max_nodes))
    if n == 0:
        return gs.Graph([], [], 0)
    m = draw(st.integers(0, max_edges))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    if m and draw(st.booleans()):
        src.append(src[0]); dst.append(dst[0])        # multi-edge
        v = draw(st.integers(0, n - 1))
        src.append(v); dst.append(v)                  # self-loop
    return gs.Graph(src, dst, n)


@st.composite
def batched_graphs(draw):
    """A batch whose members include empty graphs and edgeless graphs."""
    members = draw(st.lists(st.one_of(graphs(max_nodes=5, max_edges=8),
                                      st.just(gs.Graph([], [], 0)),
                                      st.just(gs.Graph([], [], 3))), min_size=1, max_size=4))
    return gs.batch(members)


def rand(*shape, seed=0, dtype=torch.float64, requires_grad=True):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=dtype).requires_grad_(requires_grad)


@pytest.fixture
def threads():
    """Restores torch's thread count after a test that changes it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
