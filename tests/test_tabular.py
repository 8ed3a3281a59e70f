"""graphsci.tabular: propagation against dense algebra, tables -> graphs, and EBBS."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SHARED_DATA
from graphsci.graph import Graph
from graphsci.tabular import (BoostedSmoothing, PropagatedFeatures, graph_from_edgelist, graph_from_tables,
                              knn_graph, load_county, propagate)


def _random_graph(n=12, m=30, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n - 2, m)          # the last two nodes stay isolated
    dst = rng.integers(0, n - 2, m)
    src[:3], dst[:3] = [0, 0, 1], [0, 1, 0]   # a self-loop and a multi-edge
    src[3], dst[3] = 0, 1
    return Graph(torch.from_numpy(src), torch.from_numpy(dst), n)


def _dense_operator(g, lam, steps):
    n = g.num_nodes
    A = np.zeros((n, n))
    np.add.at(A, (g.dst.numpy(), g.src.numpy()), 1.0)      # row v sums over in-edges u -> v
    A += np.eye(n)
    d = A.sum(1)
    An = A / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]
    P = np.eye(n)
    a, b = 1 / (1 + lam), lam / (1 + lam)
    for _ in range(steps):
        P = a * np.eye(n) + b * An @ P
    return P


def test_propagation_equals_dense_computation():
    g = _random_graph()
    X = np.random.default_rng(1).normal(size=(g.num_nodes, 3))
    P = _dense_operator(g, 1.5, 7)
    np.testing.assert_allclose(propagate(g, X, 1.5, 7), P @ X, atol=1e-12)
    np.testing.assert_allclose(propagate(g, X, 1.5, 7, transpose=True), P.T @ X, atol=1e-12)
    np.testing.assert_allclose(propagate(g, X[:, 0], 1.5, 7), P @ X[:, 0], atol=1e-12)
    np.testing.assert_array_equal(propagate(g, X, 1.5, 0), X)
    Y0 = np.ones_like(X)
    Z = propagate(g, Y0, 1.0, 1, X=X)
    assert np.allclose(Z[-1], (X[-1] + 1.0 * Y0[-1]) / 2)      # isolated node: only its self-loop


def test_gradient_through_propagation_matches_autograd():
    g = _random_graph(seed=3)
    P = torch.tensor(_dense_operator(g, 2.0, 5))
    F = torch.randn(g.num_nodes, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(g.num_nodes, 2, dtype=torch.float64)
    mask = torch.zeros(g.num_nodes, 1, dtype=torch.float64)
    mask[:6] = 1
    loss = 0.5 * (mask * (P @ F - y) ** 2).sum()
    loss.backward()
    out = propagate(g, F.detach(), 2.0, 5)
    ours = propagate(g, mask * (out - y), 2.0, 5, transpose=True)
    torch.testing.assert_close(ours, F.grad)


@pytest.mark.parametrize("seed", range(4))
def test_native_propagation_matches_its_twin(seed):
    from graphsci import _native, _C

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    g = _random_graph(n, int(rng.integers(0, 4 * n)), seed) if n > 4 else Graph(torch.zeros(0, dtype=torch.long),
                                                                              torch.zeros(0, dtype=torch.long), n)
    before = _C.isa()
    try:
        for isa in _C.supported_isas():
            _C.set_isa(isa)
            for dtype, d in ((torch.float64, 1), (torch.float64, 5), (torch.float32, 3)):
                Y = torch.randn(n, d, dtype=dtype) if d > 1 else torch.randn(n, dtype=dtype)
                X = torch.randn_like(Y)
                # odd and even counts: the kernel alternates two buffers between steps
                for steps, transpose in ((0, False), (1, True), (2, False), (5, True), (6, False)):
                    ours = propagate(g, Y, 1.7, steps, X=X, transpose=transpose)
                    with _native.disabled():
                        twin = propagate(g, Y, 1.7, steps, X=X, transpose=transpose)
                    tol = 1e-12 if dtype == torch.float64 else 1e-5
                    torch.testing.assert_close(ours, twin, atol=tol, rtol=tol)
    finally:
        _C.set_isa(before)
    # a tensor that needs gradients goes through the differentiable twin
    F = torch.randn(n, 2, dtype=torch.float64, requires_grad=True)
    propagate(g, F, 1.0, 3).sum().backward()
    assert F.grad is not None and torch.isfinite(F.grad).all()


def test_native_propagation_is_bitwise_identical_for_any_thread_count(threads):
    g = _random_graph(20_000, 150_000, seed=5)       # above the kernels' serial threshold
    Y = torch.randn(g.num_nodes, 3, dtype=torch.float64)
    runs = []
    for n_threads in (1, 2):
        torch.set_num_threads(n_threads)
        runs.append([propagate(g, y, 2.0, steps, transpose=t) for t in (False, True) for steps in (4, 5)
                     for y in (Y, Y[:, 0].float())])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_propagation_of_an_empty_graph_or_zero_columns_is_empty():
    import contextlib

    from graphsci import _native

    none = Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 0)
    for g, shape in ((none, (0,)), (none, (0, 3)), (_random_graph(), (12, 0))):
        for native in (True, False):
            with contextlib.nullcontext() if native else _native.disabled():
                for steps, transpose in ((0, False), (1, True), (4, False)):
                    out = propagate(g, np.zeros(shape), 1.5, steps, transpose=transpose)
                    assert out.shape == shape, (g.num_nodes, shape, native, steps)


def test_propagation_rejects_bad_input():
    g = _random_graph()
    with pytest.raises(ValueError, match="rows for a graph"):
        propagate(g, np.zeros((g.num_nodes + 1, 2)))
    with pytest.raises(ValueError, match="finite"):
        propagate(g, np.full((g.num_nodes, 2), np.nan))
    with pytest.raises(ValueError, match="non-negative"):
        propagate(g, np.zeros(g.num_nodes), lam=-1)


def _edges(g):
    return set(zip(g.src.tolist(), g.dst.tolist()))


def test_normalised_and_denormalised_schemas_give_the_same_graph():
    person = pd.DataFrame({"person_id": [10, 11, 12, 13, 14], "address_id": [1, 1, 2, 3, np.nan]})
    address = pd.DataFrame({"address_id": [1, 2, 3], "zip_id": [100, 100, 200]})
    zips = pd.DataFrame({"zip_id": [100, 200]})
    rel = graph_from_tables({"person": person, "address": address, "zip": zips},
                            {"person": "person_id", "address": "address_id", "zip": "zip_id"})
    normalised = rel.project("person", hops=2)
    flat = person.merge(address, on="address_id", how="left")
    denormalised = graph_from_tables({"person": flat}, {"person": "person_id"}).project(
        "person", hops=1, link_columns=["address_id", "zip_id"])
    assert _edges(normalised) == _edges(denormalised) == {(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)}
    assert _edges(rel.project("person", hops=1)) == {(0, 1), (1, 0)}      # shared address only
    assert normalised.num_nodes == 5                                    # person 14: isolated


def test_tables_with_bad_keys_are_clear_errors():
    person = pd.DataFrame({"person_id": [1, 2], "address_id": [1, 9]})
    address = pd.DataFrame({"address_id": [1, 2]})
    with pytest.raises(ValueError, match="person.address_id point to no row of address"):
        graph_from_tables({"person": person, "address": address}, {"person": "person_id", "address": "address_id"})
    with pytest.raises(ValueError, match="unique"):
        graph_from_tables({"address": pd.DataFrame({"address_id": [1, 1]})}, {"address": "address_id"})
    with pytest.raises(ValueError, match="no primary key"):
        graph_from_tables({"address": address}, {})


def test_knn_and_edgelist_graphs():
    df = pd.DataFrame({"x": [0.0, 0.1, 5.0, 5.1, 9.0], "y": [0, 0, 0, 0, 0.0]})
    g = knn_graph(df, ["x", "y"], k=1)
    assert _edges(g) == {(0, 1), (1, 0), (2, 3), (3, 2), (3, 4), (4, 3)}
    with pytest.raises(ValueError, match="NaN"):
        knn_graph(df.assign(x=[0, np.nan, 1, 2, 3]), ["x", "y"], k=1)
    g = graph_from_edgelist(pd.DataFrame({"a": ["u", "v"], "b": ["v", "w"]}), ids=["u", "v", "w", "z"])
    assert g.num_nodes == 4 and _edges(g) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    with pytest.raises(ValueError, match="unknown id"):
        graph_from_edgelist([["u", "q"]], ids=["u", "v"])
    with pytest.warns(UserWarning, match="dropped"):
        assert graph_from_edgelist([["u", "q"], ["u", "v"]], ids=["u", "v"], on_missing="drop").num_edges == 2


@pytest.fixture(scope="module")
def county():
    return load_county(SHARED_DATA)


def _rmse(p, y):
    return float(np.sqrt(np.mean((p - y) ** 2)))


def test_ebbs_beats_lightgbm_alone_on_county(county):
    s = county.splits[0]
    plain = lgb.LGBMRegressor(n_estimators=300, learning_rate=0.1, verbose=-1, random_state=0, n_jobs=1)
    plain.fit(county.X.iloc[s["train"]], county.y[s["train"]])
    base = _rmse(plain.predict(county.X.iloc[s["test"]]), county.y[s["test"]])
    model = BoostedSmoothing(n_estimators=300).fit(county.X, county.y, county.graph, s["train"], s["val"])
    ebbs = _rmse(model.predict()[s["test"]], county.y[s["test"]])
    assert ebbs < 0.9 * base, (ebbs, base)
    # steps=0 and no smoothing is boosting alone: close to plain LightGBM
    alone = BoostedSmoothing(n_estimators=300, steps=0, feature_steps=0, error_smoothing=False, subsample=1.0,
                             early_stopping_rounds=0).fit(county.X, county.y, county.graph, s["train"])
    assert abs(_rmse(alone.predict()[s["test"]], county.y[s["test"]]) - base) < 0.1 * base


def test_ebbs_predicts_on_a_new_graph_and_handles_nan_features(county):
    s = county.splits[1]
    X = county.X.copy()
    X.iloc[::7, 0] = np.nan                                  # NaN features are fine for the trees
    model = BoostedSmoothing(n_estimators=50, early_stopping_rounds=0).fit(X, county.y, county.graph, s["train"])
    sub = X.iloc[:100].reset_index(drop=True)
    g = knn_graph(pd.DataFrame({"i": np.arange(100.0)}), ["i"], k=2)
    pred = model.predict(sub, g)
    assert pred.shape == (100,) and np.isfinite(pred).all()
    with pytest.raises(ValueError, match="rows for a graph"):
        model.predict(X.iloc[:50], g)
    nothing = model.predict(X.iloc[:0], Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 0))
    assert nothing.shape == (0,)


def test_ebbs_classification_and_bad_masks(county):
    s = county.splits[2]
    labels = np.where(county.y > 6, "high", np.where(county.y > 4, "mid", "low"))
    labels[s["val"][:3]] = "unseen"                          # a class absent from training
    with pytest.warns(UserWarning, match="never occur in training"):
        model = BoostedSmoothing(task="classification", n_estimators=60).fit(
            county.X, labels, county.graph, s["train"], s["val"])
    proba = model.predict_proba()
    assert proba.shape == (county.graph.num_nodes, 3) and np.allclose(proba.sum(1), 1)
    assert set(model.predict()) <= {"high", "mid", "low"}
    accuracy = (model.predict()[s["test"]] == labels[s["test"]]).mean()
    assert accuracy > 0.6
    empty = Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 0)
    assert model.predict_proba(county.X.iloc[:0], empty).shape == (0, 3)
    assert model.predict(county.X.iloc[:0], empty).shape == (0,)
    with pytest.raises(ValueError, match="train_mask has 5 entries"):
        BoostedSmoothing().fit(county.X, county.y, county.graph, np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="outside"):
        BoostedSmoothing().fit(county.X, county.y, county.graph, [0, 10 ** 6])
    n = county.graph.num_nodes
    as_01 = np.isin(np.arange(n), s["train"]).astype(int)          # read as indices: nodes 0 and 1
    for mask in (as_01, as_01.astype(float)):
        with pytest.raises(ValueError, match="a 0/1 mask"):
            BoostedSmoothing().fit(county.X, county.y, county.graph, mask)
    with pytest.raises(ValueError, match="boolean mask or integer node indices"):
        BoostedSmoothing().fit(county.X, county.y, county.graph, [0.5, 3.0])
    y = county.y.copy()
    y[s["train"][0]] = np.inf
    with pytest.raises(ValueError, match="finite on the training nodes"):
        BoostedSmoothing().fit(county.X, y, county.graph, s["train"])
    # A missing label is refused, not learned as a class of its own (NaN was one)
    y[s["train"][0]] = np.nan
    with pytest.raises(ValueError, match=r"missing \(NaN or None\) on 1 node\(s\) of train_mask"):
        BoostedSmoothing().fit(county.X, y, county.graph, s["train"])
    unlabelled = labels.astype(object)
    unlabelled[s["val"][5]] = None
    with pytest.raises(ValueError, match="of val_mask"):
        BoostedSmoothing(task="classification").fit(county.X, unlabelled, county.graph, s["train"], s["val"])
    with pytest.raises(ValueError, match="subsample must be in"):
        BoostedSmoothing(subsample=0.0).fit(county.X, county.y, county.graph, s["train"])
    with pytest.raises(ValueError, match="components must be at least 1"):
        BoostedSmoothing(feature_components=0).fit(county.X, county.y, county.graph, s["train"])


def test_autogluon_smoothing_regression_and_classification(county, tmp_path):
    from graphsci.tabular import AutoGluonSmoothing

    s = county.splits[3]
    fast = dict(time_limit=30, hyperparameters={"GBM": {"num_boost_round": 100}})
    model = AutoGluonSmoothing(path=str(tmp_path / "ag"), **fast).fit(
        county.X, county.y, county.graph, s["train"], s["val"])
    pred = model.predict()
    assert pred.shape == (county.graph.num_nodes,) and np.isfinite(pred).all()
    assert _rmse(pred[s["test"]], county.y[s["test"]]) < 1.3
    assert (tmp_path / "ag").is_dir()                         # its models where we asked
    labels = (county.y > 5).astype(int)
    clf = AutoGluonSmoothing(task="classification", label_smoothing=True, **fast).fit(
        county.X, labels, county.graph, s["train"], s["val"])
    proba = clf.predict_proba()
    assert proba.shape == (county.graph.num_nodes, 2) and np.allclose(proba.sum(1), 1)
    assert (clf.predict()[s["test"]] == labels[s["test"]]).mean() > 0.7
    empty = Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 0)
    assert clf.predict_proba(county.X.iloc[:0], empty).shape == (0, 2)
    assert model.predict(county.X.iloc[:0], empty).shape == (0,)
    with pytest.raises(ValueError, match="val_mask has 3 entries"):
        AutoGluonSmoothing(**fast).fit(county.X, county.y, county.graph, s["train"], np.ones(3, bool))


def test_dblp_coauthor_graph_is_the_author_paper_author_metapath():
    import scipy.sparse as sp

    from graphsci.tabular import DBLP_AREAS, load_dblp

    d = load_dblp(SHARED_DATA)
    raw = f"{SHARED_DATA}/tabular_graphs/dblp_magnn/raw"
    types = np.load(f"{raw}/node_types.npy")
    adjacency = sp.load_npz(f"{raw}/adjM.npz").tocsr()
    ap = adjacency[types == 0][:, types == 1]
    apa = (ap @ ap.T).tolil()
    apa.setdiag(0)
    expect = sp.csr_matrix(apa)
    expect.eliminate_zeros()
    got = sp.csr_matrix((np.ones(d.graph.num_edges), (d.graph.src.numpy(), d.graph.dst.numpy())), shape=expect.shape)
    assert (got != (expect > 0)).nnz == 0
    assert d.X.shape == (4057, 451) and d.task == "classification"
    assert sorted(set(d.y)) == sorted(DBLP_AREAS) and (d.y == "Database").sum() == 1197
    assert [len(d.standard_split[k]) for k in ("train", "val", "test")] == [400, 400, 3257]


def test_wide_features_are_propagated_as_principal_components():
    rng = np.random.default_rng(0)
    g = _random_graph(60, 150, seed=3)
    X = pd.DataFrame(rng.poisson(0.3, (60, 40)).astype(float), columns=[f"w{i}" for i in range(40)])
    X["area"] = pd.Categorical(rng.choice(["a", "b"], 60))      # not numeric: never propagated
    X.iloc[::5, 0] = np.nan
    feats = PropagatedFeatures(lam=2.0, steps=2, max_columns=30, components=6).fit(X)
    out = feats.transform(X, g)
    assert list(out.columns[:41]) == list(X.columns)
    assert list(out.columns[41:]) == [f"prop_pc{i}" for i in range(6)]
    # the components are the covariance's leading eigenvectors, propagated
    filled = X.iloc[:, :40].fillna(X.iloc[:, :40].mean()).to_numpy()
    centred = filled - filled.mean(0)
    top = np.linalg.svd(centred, full_matrices=False)[2][:6].T
    expected = propagate(g, centred @ top, 2.0, 2)
    np.testing.assert_allclose(np.abs(out.iloc[:, 41:].to_numpy()), np.abs(expected), atol=1e-8)
    # refitting gives the same features; a new graph reuses the fitted projection
    pd.testing.assert_frame_equal(PropagatedFeatures(2.0, 2, 30, 6).fit(X).transform(X, g), out)
    sub = X.iloc[:10].reset_index(drop=True)
    chain = graph_from_edgelist(np.array([[i, i + 1] for i in range(9)]), ids=np.arange(10))
    np.testing.assert_allclose(feats.transform(sub, chain).iloc[:, 41:].to_numpy(),
                               propagate(chain, (filled[:10] - filled.mean(0)) @ feats.components_, 2.0, 2))
    # narrow inputs keep their own propagated columns; max_columns=None never compresses
    assert PropagatedFeatures(2.0, 2, 40, 6).fit(X).transform(X, g).shape[1] == 81
    assert PropagatedFeatures(2.0, 2, None, 6).fit(X).transform(X, g).shape[1] == 81
    with pytest.raises(ValueError, match="lacks the fitted numeric columns"):
        feats.transform(X.drop(columns=["w3"]), g)
    with pytest.raises(ValueError, match="not fitted"):
        PropagatedFeatures().transform(X, g)
