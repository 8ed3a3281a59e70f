"""Each layer against a direct dense computation on small random graphs (adjacency matrices,
isolated nodes, zero edges, multi-edges, self-loops), in float64."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import graphsci as gs
from graphsci import nn as gnn
from graphsci import ops
from conftest import batched_graphs, graphs



@pytest.fixture(autouse=True)
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def dense_adj(g, w=None):
    """A[v, u] = total weight of edges u -> v (multi-edges add up)."""
    A = torch.zeros(g.num_nodes, g.num_nodes)
    A.index_put_((g.dst, g.src), torch.ones(g.num_edges) if w is None else w, accumulate=True)
    return A


def _x(g, d=5, seed=0):
    return torch.randn(g.num_nodes, d, generator=torch.Generator().manual_seed(seed))


@given(g=graphs(min_nodes=1), weighted=st.booleans(), self_loops=st.booleans())
def test_gcn_matches_dense(g, weighted, self_loops):
    torch.manual_seed(0)
    layer = gnn.GCNConv(5, 3, add_self_loops=self_loops)
    x = _x(g)
    w = torch.rand(g.num_edges) + 0.1 if weighted else None
    A = dense_adj(g, w) + (torch.eye(g.num_nodes) if self_loops else 0)
    deg = A.sum(1)
    dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    expect = (dinv[:, None] * A * dinv[None, :]) @ layer.linear(x) + layer.bias
    torch.testing.assert_close(layer(g, x, w), expect)


@given(g=graphs(min_nodes=1), agg=st.sampled_from(["mean", "max", "pool"]))
def test_sage_matches_dense(g, agg):
    torch.manual_seed(0)
    layer = gnn.SAGEConv(5, 3, agg)
    x = _x(g)
    A = dense_adj(g)
    if agg == "mean":
        deg = A.sum(1, keepdim=True)
        neigh = torch.where(deg > 0, A @ x / deg.clamp(min=1), torch.zeros_like(x))
    else:
        h = torch.relu(layer.fc_pool(x)) if agg == "pool" else x
        masked = torch.where(A[:, :, None] > 0, h[None, :, :], torch.full_like(h[None], float("-inf")))
        neigh = masked.max(1).values
        neigh = torch.where(torch.isinf(neigh), torch.zeros_like(neigh), neigh)
    torch.testing.assert_close(layer(g, x), layer.fc_self(x) + layer.fc_neigh(neigh))


@given(g=graphs(min_nodes=1), heads=st.sampled_from([1, 3]), concat=st.booleans(),
       with_edges=st.booleans(), loops=st.booleans())
def test_gat_matches_dense(g, heads, concat, with_edges, loops):
    torch.manual_seed(0)
    layer = gnn.GATConv(5, 4, heads, concat=concat, edge_feats=2 if with_edges else None,
                        add_self_loops=loops).eval()
    x = _x(g)
    ef = torch.randn(g.num_edges, 2) if with_edges else None
    out = layer(g, x, ef)
    # dense: one softmax per destination over its incoming edges (each edge counted)
    h, hef = (g, ef)
    if loops:
        h, hef = g.add_self_loops(ef, 0.0) if with_edges else (g.add_self_loops(), None)
    z = layer.fc(x).view(-1, heads, 4)
    el, er = (z * layer.attn_l).sum(-1), (z * layer.attn_r).sum(-1)
    expect = torch.zeros(g.num_nodes, heads, 4)
    for v in range(g.num_nodes):
        idx = (h.dst == v).nonzero().flatten()
        if idx.numel() == 0:
            continue
        s = el[h.src[idx]] + er[v]
        if with_edges:
            s = s + (layer.fc_edge(hef[idx]).view(-1, heads, 4) * layer.attn_e).sum(-1)
        a = torch.softmax(torch.nn.functional.leaky_relu(s, 0.2), dim=0)  # over edges
        expect[v] = (a[:, :, None] * z[h.src[idx]]).sum(0)
    expect = expect.flatten(1) if concat else expect.mean(1)
    torch.testing.assert_close(out, expect + layer.bias)


@given(g=graphs(min_nodes=1), train_eps=st.booleans())
def test_gin_matches_dense(g, train_eps):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    layer = gnn.GINConv(mlp, eps=0.3, train_eps=train_eps)
    x = _x(g)
    torch.testing.assert_close(layer(g, x), mlp(1.3 * x + dense_adj(g) @ x))
    assert isinstance(layer.eps, nn.Parameter) == train_eps


@given(g=graphs(min_nodes=1), agg=st.sampled_from(["sum", "mean"]))
def test_nnconv_matches_per_edge_loop(g, agg):
    torch.manual_seed(0)
    edge_nn = nn.Linear(2, 5 * 3)
    layer = gnn.NNConv(5, 3, edge_nn, aggregator=agg)
    x, ef = _x(g), torch.randn(g.num_edges, 2)
    expect = torch.zeros(g.num_nodes, 3)
    for i in range(g.num_edges):
        expect[g.dst[i]] += x[g.src[i]] @ edge_nn(ef[i]).view(5, 3)
    if agg == "mean":
        expect = expect / g.in_degrees().clamp(min=1)[:, None]
    torch.testing.assert_close(layer(g, x, ef), expect + layer.root(x) + layer.bias)


@given(b=batched_graphs())
def test_readouts_match_per_graph(b):
    torch.manual_seed(0)
    x = _x(b, 4)
    members = torch.split(x, b.batch_num_nodes.tolist())

    def per_graph(fn):
        return torch.stack([fn(m) if m.shape[0] else torch.zeros(4) for m in members])

    torch.testing.assert_close(gnn.SumReadout()(b, x), per_graph(lambda m: m.sum(0)))
    torch.testing.assert_close(gnn.NormReadout()(b, x), per_graph(lambda m: m.sum(0) / 100))
    torch.testing.assert_close(gnn.NormReadout(7.0)(b, x), per_graph(lambda m: m.sum(0) / 7))
    torch.testing.assert_close(gnn.MeanReadout()(b, x), per_graph(lambda m: m.mean(0)))
    torch.testing.assert_close(gnn.MaxReadout()(b, x), per_graph(lambda m: m.max(0).values))
    gate = nn.Linear(4, 1)
    att = gnn.AttentionReadout(gate)
    torch.testing.assert_close(att(b, x), per_graph(lambda m: (torch.softmax(gate(m), 0) * m).sum(0)))


def test_norm_readout_needs_a_positive_norm():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="norm"):
            gnn.NormReadout(bad)


def test_set2set_matches_per_graph_loop():
    torch.manual_seed(0)
    b = gs.batch([gs.Graph([0], [1], 3), gs.Graph([], [], 2), gs.Graph([0, 1], [1, 0], 4)])
    x = torch.randn(9, 4)
    s2s = gnn.Set2Set(4, n_iters=3)
    out = s2s(b, x)
    assert out.shape == (3, 8)
    for i, m in enumerate(torch.split(x, [3, 2, 4])):
        h = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))
        q_star = torch.zeros(1, 8)
        for _ in range(3):
            q, h = s2s.lstm(q_star.unsqueeze(0), h)
            q = q.view(1, 4)
            a = torch.softmax((m * q).sum(-1), 0)
            q_star = torch.cat([q, (a[:, None] * m).sum(0, keepdim=True)], -1)
        torch.testing.assert_close(out[i], q_star[0])


def test_layers_train_end_to_end_with_native_gradients():
    """Gradients flow through every layer into every parameter."""
    torch.manual_seed(0)
    b = gs.batch([gs.Graph([0, 1, 2], [1, 2, 0]), gs.Graph([0], [1], 2)])
    x, ef = torch.randn(5, 5), torch.randn(4, 2)
    layers = [gnn.GCNConv(5, 5), gnn.SAGEConv(5, 5, "pool"), gnn.GATConv(5, 5, 1, edge_feats=2),
              gnn.GINConv(nn.Linear(5, 5), train_eps=True), gnn.NNConv(5, 5, nn.Linear(2, 25))]
    h = x
    for layer in layers:
        h = layer(b, h, ef) if isinstance(layer, (gnn.GATConv, gnn.NNConv)) else layer(b, h)
    gnn.Set2Set(5)(b, h).sum().backward()
    for layer in layers:
        for name, p in layer.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


class EdgeGatedConv(nn.Module):
    """A user-written layer in the same style: gate each message by sigmoid(<x_u, x_v>)."""

    def __init__(self, dim):
        super().__init__()
        self.lin = nn.Linear(dim, dim)

    def forward(self, g, x):
        gate = torch.sigmoid(ops.sddmm(g, x, x, "dot", "u", "v"))
        return self.lin(ops.spmm(g, x, gate, "u_mul_e", "mean"))


@given(g=graphs(min_nodes=1))
def test_user_written_layer(g):
    torch.manual_seed(0)
    layer = EdgeGatedConv(5)
    x = _x(g).requires_grad_()
    G = torch.sigmoid(x @ x.T) * dense_adj(g).T  # G[u, v] = gate * multiplicity
    deg = dense_adj(g).sum(1, keepdim=True)
    expect = layer.lin(torch.where(deg > 0, G.T @ x / deg.clamp(min=1), torch.zeros_like(x)))
    torch.testing.assert_close(layer(g, x), expect)
    torch.autograd.gradcheck(lambda x: layer(g, x), (x,))


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="aggregator"):
        gnn.SAGEConv(2, 2, "median")
    with pytest.raises(ValueError, match="edge_feats"):
        gnn.GATConv(2, 2, edge_feats=3)(gs.Graph([0], [1]), torch.randn(2, 2))


def test_sparse_features_give_the_dense_results():
    """GCN and GAT on sparse COO features equal the dense computation; sparse dropout keeps
    zeros zero and scales kept values like dense dropout."""
    from graphsci.nn.functional import dropout

    torch.manual_seed(0)
    g = gs.Graph([0, 1, 2, 3], [1, 2, 0, 0], 5)
    x = torch.zeros(5, 6)
    x[0, 1], x[2, 4], x[3, 0], x[3, 5] = 1.0, 2.0, 0.5, 1.5
    xs = x.to_sparse()
    for layer in (gnn.GCNConv(6, 3), gnn.GCNConv(6, 8), gnn.GATConv(6, 2, heads=2).eval()):
        torch.testing.assert_close(layer(g, xs), layer(g, x))
        layer(g, xs).sum().backward()  # gradients reach the weights through the sparse product
    d = dropout(xs, 0.5, True).to_dense()
    assert bool(((d == 0) | (d == 2 * x)).all()) and bool((d[x == 0] == 0).all())
    assert dropout(xs, 0.5, False) is xs
    with pytest.raises(ValueError, match="dense tensor"):
        ops.spmm(g, xs)
