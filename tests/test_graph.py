import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given

import graphsci as gs
from conftest import batched_graphs, graphs


def test_basic_properties():
    g = gs.Graph([0, 1, 1], [1, 2, 2], num_nodes=4)
    assert (g.num_nodes, g.num_edges, g.batch_size) == (4, 3, 1)
    assert g.in_degrees().tolist() == [0, 1, 2, 0]
    assert g.out_degrees().tolist() == [1, 2, 0, 0]
    assert g.src.dtype == torch.int64
    assert "num_nodes=4" in repr(g)


def test_num_nodes_defaults_to_max_id_plus_one():
    assert gs.Graph([0, 5], [2, 1]).num_nodes == 6
    assert gs.Graph([], []).num_nodes == 0


def test_immutable():
    g = gs.Graph([0], [1])
    with pytest.raises(AttributeError):
        g.num_nodes = 5


@pytest.mark.parametrize("src,dst,n,match", [
    ([0, 1], [1], 2, "same length"),
    ([0, -1], [1, 1], 2, "negative"),
    ([0, 1], [1, 2], 2, "out of range"),
    ([0.0, 1.0], [1, 0], 2, "integer"),
    ([True, False], [1, 0], 2, "integer"),
    ([[0, 1]], [[1, 0]], 2, "1-dimensional"),
    ([0], [1], -1, "non-negative"),
    ([0], [1], 2.5, "int"),
])
def test_bad_construction_raises_value_error(src, dst, n, match):
    with pytest.raises(ValueError, match=match):
        gs.Graph(src, dst, n)


def test_bad_batch_metadata():
    with pytest.raises(ValueError, match="sums"):
        gs.Graph([0], [1], 2, batch_num_nodes=[1, 2], batch_num_edges=[0, 1])
    with pytest.raises(ValueError, match="outside its batch member"):
        gs.Graph([0], [1], 2, batch_num_nodes=[1, 1], batch_num_edges=[1, 0])
    with pytest.raises(ValueError, match="both"):
        gs.Graph([0], [1], 2, batch_num_nodes=[2])


@given(graphs())
def test_csr_and_csc_group_edges_stably(g):
    for rows, key, other in ((g.csr, g.dst, g.src), (g.csc, g.src, g.dst)):
        indptr, indices, eids = (t.long() for t in rows)
        assert indptr[0] == 0 and indptr[-1] == g.num_edges
        assert torch.equal(torch.diff(indptr), torch.bincount(key, minlength=g.num_nodes))
        assert torch.equal(eids, torch.sort(key, stable=True).indices)
        assert torch.equal(indices, other[eids])
    assert torch.equal(g.in_degrees(), torch.diff(g.csr.indptr.long()))
    assert torch.equal(g.out_degrees(), torch.diff(g.csc.indptr.long()))


@given(batched_graphs())
def test_batch_unbatch_round_trip(b):
    members = b.unbatch()
    assert len(members) == b.batch_size
    again = gs.batch(members)
    assert torch.equal(again.src, b.src) and torch.equal(again.dst, b.dst)
    assert torch.equal(again.batch_num_nodes, b.batch_num_nodes)
    assert torch.equal(again.batch_num_edges, b.batch_num_edges)
    assert sum(m.num_nodes for m in members) == b.num_nodes
    # Batching batches flattens them.
    assert gs.batch([b, b]).batch_size == 2 * b.batch_size
    assert b.node_batch.numel() == b.num_nodes and b.edge_batch.numel() == b.num_edges


def test_batch_offsets_ids():
    b = gs.batch([gs.Graph([0], [1], 2), gs.Graph([], [], 0), gs.Graph([1, 0], [0, 0], 3)])
    assert b.src.tolist() == [0, 3, 2] and b.dst.tolist() == [1, 2, 2]
    assert b.batch_num_nodes.tolist() == [2, 0, 3]
    assert b.batch_num_edges.tolist() == [1, 0, 2]
    assert b.node_offsets.tolist() == [0, 2, 2, 5]
    with pytest.raises(ValueError):
        gs.batch([])
    with pytest.raises(ValueError, match="not a Graph"):
        gs.batch([b, "x"])


@given(batched_graphs())
def test_self_loops_stay_within_members(b):
    looped = b.add_self_loops()
    assert looped.num_edges == b.num_edges + b.num_nodes
    # The trusted constructor skipped the checks: rebuild through the checked one.
    gs.Graph(looped.src, looped.dst, looped.num_nodes, batch_num_nodes=looped.batch_num_nodes,
             batch_num_edges=looped.batch_num_edges)
    plain = looped.remove_self_loops()
    assert not bool((plain.src == plain.dst).any())
    assert torch.equal(plain.src, b.remove_self_loops().src)
    gs.Graph(plain.src, plain.dst, plain.num_nodes, batch_num_nodes=plain.batch_num_nodes,
             batch_num_edges=plain.batch_num_edges)


def test_add_self_loops_single_graph_appends_in_node_order():
    g = gs.Graph([0, 1], [1, 0], 3).add_self_loops()
    assert g.src.tolist() == [0, 1, 0, 1, 2] and g.dst.tolist() == [1, 0, 0, 1, 2]


@given(graphs())
def test_reverse(g):
    r = g.reverse()
    assert torch.equal(r.src, g.dst) and torch.equal(r.dst, g.src)
    assert torch.equal(r.in_degrees(), g.out_degrees())
    _ = g.csr  # cached views swap roles
    r2 = g.reverse()
    assert r2.csc is g.csr


@given(graphs())
def test_scipy_round_trip(g):
    a = g.to_scipy()
    dense = np.zeros((g.num_nodes, g.num_nodes))
    np.add.at(dense, (g.src.numpy(), g.dst.numpy()), 1)
    assert np.array_equal(a.toarray(), dense)
    h, w = gs.Graph.from_scipy(sp.coo_matrix(dense), return_weights=True)
    assert np.array_equal(h.to_scipy(w).toarray(), dense)


def test_from_scipy_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        gs.Graph.from_scipy(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError, match="scipy sparse"):
        gs.Graph.from_scipy(np.ones((2, 2)))


@given(graphs())
def test_networkx_round_trip(g):
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == g.num_nodes and nxg.number_of_edges() == g.num_edges
    h = gs.Graph.from_networkx(nxg)
    assert sorted(zip(h.src.tolist(), h.dst.tolist())) == sorted(zip(g.src.tolist(), g.dst.tolist()))


def test_from_undirected_networkx():
    h = gs.Graph.from_networkx(nx.path_graph(["a", "b", "c"]))
    assert h.num_nodes == 3 and h.num_edges == 4
    assert h.in_degrees().tolist() == [1, 2, 1]


def test_to_same_device_is_identity():
    g = gs.Graph([0], [1])
    assert g.to("cpu") is g


def test_index_dtype_is_int32_for_ordinary_graphs():
    g = gs.Graph([0, 1], [1, 0])
    assert g.csr.indptr.dtype == torch.int32 and g.index_dtype == torch.int32


def test_add_self_loops_carries_edge_features():
    b = gs.batch([gs.Graph([0], [1], 2), gs.Graph([1], [0], 2)])
    w = torch.tensor([5.0, 7.0])
    g, w2 = b.add_self_loops(w, fill_value=1.0)
    assert list(zip(g.src.tolist(), g.dst.tolist(), w2.tolist())) == [
        (0, 1, 5.0), (0, 0, 1.0), (1, 1, 1.0), (3, 2, 7.0), (2, 2, 1.0), (3, 3, 1.0)]
    with pytest.raises(ValueError, match="edge_feats"):
        b.add_self_loops(torch.ones(3))


def test_pickle_round_trip_and_memo():
    import pickle

    g = gs.Graph([0, 1], [1, 2])
    _ = g.csr
    calls = []
    assert g.memo("k", lambda: calls.append(1) or 42) == 42
    assert g.memo("k", lambda: calls.append(1) or 43) == 42 and calls == [1]
    h = pickle.loads(pickle.dumps(g))
    assert torch.equal(h.src, g.src) and h.num_nodes == 3 and "csr" not in h.__dict__
