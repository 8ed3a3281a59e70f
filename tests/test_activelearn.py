from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SHARED_DATA
from graphsci import Graph
from graphsci.activelearn import (STRATEGIES, ActiveLearner, GCNClassifier, MoleculeEnsemble, MoleculePool,
                                  NodePool, PoolState, ScatterSample, make_strategy)
from graphsci.activelearn.strategies import kmeans, pagerank


def _clustered_graph(clusters=5, size=40, feats=8, seed=0):
    """Well-separated clusters: dense inside, no edges across, features around far-apart centres."""
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for c in range(clusters):
        base = c * size
        for _ in range(size * 4):
            a, b = rng.integers(0, size, 2)
            src += [base + a, base + b]
            dst += [base + b, base + a]
    centres = rng.normal(size=(clusters, feats)) * 20
    x = centres.repeat(size, 0) + rng.normal(size=(clusters * size, feats))
    return Graph(src, dst, clusters * size), torch.tensor(x, dtype=torch.float32), np.repeat(np.arange(clusters), size)


def _state(labelled_ids=(0, 1), seed=0):
    g, x, y = _clustered_graph(seed=seed)
    n = g.num_nodes
    labelled = np.zeros(n, dtype=bool)
    labelled[list(labelled_ids)] = True
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(5), n)
    emb = x.numpy() + rng.normal(size=x.shape)
    return PoolState(labelled=labelled, proba=proba, embeddings=emb, features=x, graph=g), y


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_returns_distinct_unlabelled_ids(name):
    state, _ = _state(labelled_ids=range(0, 200, 7))
    strategy = make_strategy(name)
    ids = strategy.select(state, 12, np.random.default_rng(3))
    assert len(ids) == 12 and len(set(ids.tolist())) == 12
    assert not state.labelled[ids].any()
    again = make_strategy(name).select(_state(labelled_ids=range(0, 200, 7))[0], 12, np.random.default_rng(3))
    assert np.array_equal(ids, again)  # deterministic for a seed
    # fewer left than asked: all that is left
    state.labelled[:] = True
    state.labelled[[5, 77, 150]] = False
    assert sorted(strategy.select(state, 10, np.random.default_rng(0)).tolist()) == [5, 77, 150]
    state.labelled[:] = True
    assert len(strategy.select(state, 4, np.random.default_rng(0))) == 0


def test_scattersample_picks_from_different_clusters():
    state, y = _state()
    state.proba = np.full((len(y), 5), 0.2)  # all equally uncertain: diversity decides
    ids = ScatterSample(candidates=200).select(state, 5, np.random.default_rng(0))
    assert sorted(y[ids].tolist()) == [0, 1, 2, 3, 4]
    # plain uncertainty takes the most uncertain, wherever they are
    state.proba = np.tile([0.96, 0.01, 0.01, 0.01, 0.01], (len(y), 1))
    state.proba[y == 2] = 0.2
    unc = make_strategy("uncertainty").select(state, 5, np.random.default_rng(0))
    assert set(y[unc].tolist()) == {2}


def test_featprop_queries_the_clusters_that_hold_no_queried_node():
    state, y = _state(labelled_ids=())
    queried = np.zeros(len(y), dtype=bool)
    queried[[3, 45, 90]] = True          # one node in each of clusters 0, 1 and 2
    blocked = queried.copy()
    blocked[[130, 131]] = True           # never to be queried (a test set), not labelled
    state.labelled, state.queried = blocked, queried
    # (seed 0: a k-means++ start that separates the five clusters; test_kmeans_and_pagerank
    # covers the clustering itself)
    ids = make_strategy("featprop").select(state, 2, np.random.default_rng(0))
    assert sorted(y[ids].tolist()) == [3, 4] and not blocked[ids].any()
    state.queried = queried[:10]
    with pytest.raises(ValueError, match="queried has shape"):
        make_strategy("featprop").select(state, 2, np.random.default_rng(0))


def test_loop_tells_strategies_which_items_were_queried():
    g, x, y = _clustered_graph()
    seen = []

    class Spy(ScatterSample):
        def _select(self, state, pool, n, rng):
            seen.append((state.queried.copy(), state.labelled.copy()))
            return super()._select(state, pool, n, rng)

    pool = NodePool(g, x, test_ids=np.arange(150, 200), test_labels=y[150:200])
    learner = ActiveLearner(lambda: GCNClassifier(5, epochs=5), Spy(), pool, y)
    records = list(learner.run(15, 5, initial=[0, 40, 80, 120, 140]))
    queried, blocked = seen[0]
    assert sorted(np.flatnonzero(queried).tolist()) == [0, 40, 80, 120, 140]
    assert blocked[150:].all() and not queried[150:].any()
    assert sorted(np.flatnonzero(seen[1][0]).tolist()) == sorted([0, 40, 80, 120, 140] + records[1]["queried"])


def test_strategy_argument_checks():
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("nope")
    with pytest.raises(ValueError, match="needs the pool to provide proba"):
        make_strategy("uncertainty").select(PoolState(labelled=np.zeros(5, dtype=bool)), 2, np.random.default_rng(0))


def test_kmeans_and_pagerank():
    x = torch.cat([torch.randn(50, 2) + 10, torch.randn(50, 2) - 10])
    c = kmeans(x, 2, np.random.default_rng(0))
    assert sorted(c[:, 0].round().tolist()) == pytest.approx([-10, 10], abs=1.5)
    star = Graph([1, 2, 3, 4], [0, 0, 0, 0], 5)
    pr = pagerank(star.add_self_loops())
    assert pr.argmax() == 0 and pr.sum() == pytest.approx(1.0)
    import networkx as nx
    rng = np.random.default_rng(1)
    pairs = np.unique(rng.integers(0, 30, (120, 2)), axis=0)  # networkx has no multi-edges
    src, dst = pairs[:, 0], pairs[:, 1]
    g = Graph(src, dst, 30)
    reference = nx.DiGraph()
    reference.add_nodes_from(range(30))
    reference.add_edges_from(zip(src.tolist(), dst.tolist()))
    ref = nx.pagerank(reference, alpha=0.85, tol=1e-12)
    mine = pagerank(g)
    assert max(abs(mine[k] - v) for k, v in ref.items()) < 1e-6


def test_loop_on_cora_slice_is_resumable_and_respects_the_test_set():
    from graphsci.data import load_planetoid
    d = load_planetoid("cora", SHARED_DATA)
    test = torch.nonzero(d.test_mask)[:, 0].numpy()
    y = d.y.numpy()
    pool = NodePool(d.graph, d.x, test, y[test])
    factory = lambda: GCNClassifier(7, epochs=30)  # noqa: E731
    asked = []

    def oracle(ids):
        asked.extend(ids.tolist())
        return y[ids]

    full = list(ActiveLearner(factory, "scattersample", pool, oracle).run(35, 7, initial=7, seed=4))
    assert [r["n_labels"] for r in full] == [7, 14, 21, 28, 35]
    assert len(set(asked)) == 35 and not set(asked) & set(test.tolist())
    assert all(0 <= r["metrics"]["accuracy"] <= 1 for r in full)
    assert full[-1]["metrics"]["accuracy"] > 0.4
    # resume after the third round: the same queries follow
    resumed = list(ActiveLearner(factory, "scattersample", pool, y).run(35, 7, initial=7, seed=4, resume=full[:3]))
    assert [r["queried"] for r in resumed] == [r["queried"] for r in full[3:]]
    with pytest.raises(ValueError, match="test set"):
        next(ActiveLearner(factory, "random", pool, y).run(10, 2, initial=test[:2]))
    with pytest.raises(ValueError, match="one test label per test id"):
        NodePool(d.graph, d.x, test, None)


def test_bad_ids_labels_and_oracles_are_clear_errors():
    rng = np.random.default_rng(0)
    n = 30
    g = Graph(torch.as_tensor(rng.integers(0, n, 60)), torch.as_tensor(rng.integers(0, n, 60)), n)
    x, y = torch.rand(n, 5), rng.integers(0, 3, n)

    def first_round(pool, oracle, **kw):
        return next(ActiveLearner(lambda: GCNClassifier(3, epochs=2), "random", pool, oracle).run(8, 3, **kw))

    with pytest.raises(ValueError, match=r"test_ids must lie in \[0, 30\); got 99"):
        NodePool(g, x, [0, 99], [0, 1])
    with pytest.raises(ValueError, match="exclude must lie in"):      # -1 would silently mean the last node
        NodePool(g, x, exclude=[-1])
    mask = np.arange(n) >= 20                                         # cast to int it named items 0 and 1
    assert NodePool(g, x, exclude=mask).exclude.tolist() == list(range(20, 30))
    with pytest.raises(ValueError, match="as a boolean mask needs 30 entries"):
        NodePool(g, x, exclude=mask[:10])
    with pytest.raises(ValueError, match="item indices or a boolean mask"):
        NodePool(g, x, [0.5], [1])
    with pytest.raises(ValueError, match="holds 5 labels for a pool of 30"):
        first_round(NodePool(g, x), y[:5])
    with pytest.raises(ValueError, match="class indices in \\[0, 3\\)"):
        first_round(NodePool(g, x), y + 5)
    with pytest.raises(ValueError, match="class indices"):
        first_round(NodePool(g, x), np.full(n, np.nan))
    with pytest.raises(ValueError, match="resumed records' ids"):
        first_round(NodePool(g, x), y, resume=[{"round": 0, "queried": [100], "labels": [1]}])
    with pytest.raises(ValueError, match="every item is excluded"):
        first_round(NodePool(g, x, exclude=range(n)), y)
    with pytest.raises(ValueError, match="9 initial ids exceed the budget of 8 labels"):   # labelled 9 of 8
        first_round(NodePool(g, x), y, initial=range(9))
    empty = Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="pool is empty"):
        first_round(NodePool(empty, torch.rand(0, 5)), y[:0])
    assert first_round(NodePool(g, x), y.astype(float))["n_labels"] == 3   # 0.0, 1.0, 2.0 are classes


def test_molecule_pool_with_scattersample():
    import pandas as pd
    df = pd.read_csv(Path(SHARED_DATA) / "molecules" / "bbbp.csv").head(160)
    pool = MoleculePool(df["smiles"][:120].tolist(), df["smiles"][120:].tolist(), df["p_np"][120:].to_numpy())
    y = df["p_np"][:120].to_numpy()
    learner = ActiveLearner(lambda: MoleculeEnsemble(epochs=2, n_models=2, hidden=32, ffn_hidden=32), "scattersample",
                            pool, y)
    records = list(learner.run(30, 10, initial=10, seed=0))
    assert [r["n_labels"] for r in records] == [10, 20, 30]
    assert 0 <= records[-1]["metrics"]["roc_auc"] <= 1
    assert pool.fingerprints().shape == (120, 2048)


def test_principal_components_keep_the_distances_of_low_rank_rows():
    from graphsci.activelearn.strategies import principal_components
    gen = torch.Generator().manual_seed(0)
    rows = (torch.randn(300, 5, generator=gen, dtype=torch.float64)
            @ torch.randn(5, 600, generator=gen, dtype=torch.float64) + 3.0)  # rank 5, shifted
    z = principal_components(rows, 8)
    assert z.shape == (300, 8)
    assert torch.allclose(torch.cdist(z, z), torch.cdist(rows, rows), atol=1e-4)
    assert torch.equal(z, principal_components(rows, 8))          # seeded: same every call
    narrow = rows[:, :100]                                         # <= 512 columns: the exact (covariance) route
    zn = principal_components(narrow, 8)
    assert zn.shape == (300, 8)
    assert torch.allclose(torch.cdist(zn, zn), torch.cdist(narrow, narrow), atol=1e-4)
    assert principal_components(rows, 300) is rows                # nothing to reduce
    assert principal_components(rows, None) is rows
    for bad in (0, 2.5, "64", True):
        with pytest.raises(ValueError, match="dim must be"):
            ScatterSample(dim=bad)
    broken = rows.clone()
    broken[3, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        principal_components(broken, 8)
    g, x, y = _clustered_graph()
    x[4, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        NodePool(g, x, test_ids=[0], test_labels=[0])


def test_scattersample_clusters_wide_features_on_their_components():
    state, y = _state()
    wide = torch.cat([state.features, torch.zeros(len(y), 100)], 1)  # 108 columns > dim
    state.features = wide
    state.proba = np.full((len(y), 5), 0.2)
    ids = ScatterSample(candidates=200, dim=4).select(state, 5, np.random.default_rng(0))
    assert sorted(y[ids].tolist()) == [0, 1, 2, 3, 4]
    assert state.cache["scatter-space:2:4"].shape == (len(y), 4)
    typ = state.cache["typicality:scatter-space:2:4"]  # filled for the candidates only, kept for later rounds
    assert torch.isfinite(typ).sum() == len(state.unlabelled) and torch.isfinite(typ[ids]).all()
    again = ScatterSample(candidates=200, dim=4).select(state, 5, np.random.default_rng(0))
    assert np.array_equal(ids, again)


def test_typicality_is_the_inverse_mean_distance_to_the_nearest_rows():
    from graphsci.activelearn.strategies import typicality
    gen = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(200, 3, generator=gen, dtype=torch.float64) * 0.1,      # a dense blob
                   torch.randn(20, 3, generator=gen, dtype=torch.float64) * 5 + 10])   # a sparse one
    rows = np.array([0, 5, 150, 201, 219])
    reference = 1.0 / torch.cdist(x, x).sort(1).values[:, 1:21].mean(1)
    assert torch.allclose(typicality(x, rows, chunk=2), reference[rows])
    assert typicality(x, rows)[:3].min() > typicality(x, rows)[3:].max()
    assert torch.allclose(typicality(x[:4], [0, 3]), 1.0 / torch.cdist(x[:4], x[:4]).sort(1).values[[0, 3], 1:].mean(1))
    assert typicality(x[:1], [0]).tolist() == [1.0]   # nothing to compare with
    assert torch.isfinite(typicality(torch.zeros(5, 2), [0, 1])).all()  # duplicates: large, not inf / NaN


def test_scattersample_queries_the_typical_candidate_of_each_cluster():
    gen = torch.Generator().manual_seed(1)
    core = torch.randn(40, 2, generator=gen) * 0.1
    group = torch.cat([core, torch.tensor([[0.2, 0.0], [3.0, 0.0], [3.0, 0.2]])])  # rows 40-42 are the candidates
    emb = torch.cat([group, group + 100.0]).numpy()
    n = len(emb)
    proba = np.tile([0.99, 0.01], (n, 1))
    candidates = [40, 41, 42, 83, 84, 85]
    proba[candidates] = 0.5
    state = PoolState(labelled=np.zeros(n, dtype=bool), proba=proba, embeddings=emb)
    typical = ScatterSample(candidates=6).select(state, 2, np.random.default_rng(0))
    assert sorted(typical.tolist()) == [40, 83]  # inside the dense cores
    centre = ScatterSample(candidates=6, pick="centre").select(state, 2, np.random.default_rng(0))
    assert set(centre.tolist()) <= {41, 42, 84, 85}  # the centres sit between the two outliers
    with pytest.raises(ValueError, match="pick must be"):
        ScatterSample(pick="nearest")
