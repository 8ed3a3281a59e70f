"""Query strategies: which unlabelled items to label next.

Every strategy implements ``select(state, n, rng) -> ids``: ``n`` distinct ids from
``state.unlabelled`` (all of them when fewer are left), deterministic for a given ``rng``.
What a strategy reads from the :class:`PoolState` — model probabilities, embeddings, the graph,
input features — is filled in by the pool (graph nodes or molecules).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch

from graphsci import ops
from graphsci.graph import Graph


@dataclass
class PoolState:
    """What strategies may look at in one round.

    ``proba``: ``(N, C)`` class probabilities of the current model (mean over an ensemble);
    ``embeddings``: ``(N, H)`` model embeddings (or fingerprints); ``features``: ``(N, F)`` input
    features; ``graph``: the graph over the N items, if there is one; ``labelled``: boolean
    ``(N,)`` (labelled by the oracle, or never to be queried); ``queried``: boolean ``(N,)``, the
    items the oracle labelled (None: not told apart from ``labelled``); ``round``: how many rounds
    were queried before this one; ``cache``: a dict a strategy may keep derived data in across
    rounds (the pool is fixed).
    """

    labelled: np.ndarray
    proba: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    features: torch.Tensor | None = None
    graph: Graph | None = None
    queried: np.ndarray | None = None
    round: int = 0
    cache: dict = field(default_factory=dict)

    @property
    def unlabelled(self) -> np.ndarray:
        return np.flatnonzero(~self.labelled)


class Strategy(ABC):
    name = "strategy"

    def select(self, state: PoolState, n: int, rng: np.random.Generator) -> np.ndarray:
        pool = state.unlabelled
        if n <= 0 or len(pool) == 0:
            return np.zeros(0, dtype=np.int64)
        if n >= len(pool):
            return pool.copy()
        ids = np.asarray(self._select(state, pool, n, rng), dtype=np.int64)
        if len(ids) != n or len(np.unique(ids)) != n or state.labelled[ids].any():
            raise RuntimeError(f"{self.name} returned an invalid query")  # a bug, never user input
        return ids

    @abstractmethod
    def _select(self, state, pool, n, rng):
        """``n`` ids from ``pool`` (there are more than ``n``)."""

    def __repr__(self):
        return f"{type(self).__name__}()"


def _need(state, attr, who):
    value = getattr(state, attr)
    if value is None:
        raise ValueError(f"{who} needs the pool to provide {attr}")
    return value


def _top(scores: np.ndarray, pool: np.ndarray, n: int, rng) -> np.ndarray:
    """The n highest-scoring pool ids; ties broken at random (seeded) rather than by id."""
    jitter = rng.random(len(pool))
    order = np.lexsort((jitter, -scores))
    return pool[order[:n]]


def uncertainty_scores(proba: np.ndarray, measure: str = "entropy") -> np.ndarray:
    """Higher = more uncertain. ``entropy``, ``margin`` (1 - (p1 - p2)) or
    ``least_confidence`` (1 - p_max)."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
    if measure == "entropy":
        return -(p * np.log(p)).sum(1)
    top2 = -np.sort(-p, axis=1)[:, :2]
    if measure == "margin":
        return 1.0 - (top2[:, 0] - (top2[:, 1] if p.shape[1] > 1 else 0.0))
    if measure == "least_confidence":
        return 1.0 - top2[:, 0]
    raise ValueError(f"unknown uncertainty measure {measure!r}; expected entropy, margin or least_confidence")


class RandomSampling(Strategy):
    name = "random"

    def _select(self, state, pool, n, rng):
        return rng.choice(pool, n, replace=False)


class UncertaintySampling(Strategy):
    """The n most uncertain items under the current model."""

    name = "uncertainty"

    def __init__(self, measure: str = "entropy"):
        uncertainty_scores(np.full((1, 2), 0.5), measure)  # validates the name
        self.measure = measure

    def _select(self, state, pool, n, rng):
        proba = _need(state, "proba", self.name)
        return _top(uncertainty_scores(proba[pool], self.measure), pool, n, rng)


def pagerank(g: Graph, damping: float = 0.85, iters: int = 100, tol: float = 1e-10) -> np.ndarray:
    """PageRank by power iteration on the native SpMM (dangling mass spread uniformly)."""
    n = g.num_nodes
    out_deg = g.out_degrees().to(torch.float64)
    w = (1.0 / out_deg.clamp(min=1))[g.src]
    r = torch.full((n, 1), 1.0 / n, dtype=torch.float64)
    dangling = out_deg == 0
    for _ in range(iters):
        spread = ops.spmm(g, r, w, "u_mul_e")
        new = damping * (spread + r[dangling].sum() / n) + (1 - damping) / n
        if float((new - r).abs().sum()) < tol:
            r = new
            break
        r = new
    return r[:, 0].numpy()


class CentralitySampling(Strategy):
    """The n most central unlabelled nodes: ``degree`` or ``pagerank`` (fixed for the pool)."""

    def __init__(self, measure: str = "pagerank"):
        if measure not in ("degree", "pagerank"):
            raise ValueError(f"unknown centrality {measure!r}; expected degree or pagerank")
        self.measure = measure
        self.name = measure

    def _select(self, state, pool, n, rng):
        g = _need(state, "graph", self.name)
        if self.measure not in state.cache:
            state.cache[self.measure] = (g.in_degrees().numpy().astype(np.float64) if self.measure == "degree"
                                         else pagerank(g))
        return _top(state.cache[self.measure][pool], pool, n, rng)


def _sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)).clamp(min=0)


def kmeans(x: torch.Tensor, k: int, rng: np.random.Generator, iters: int = 30) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding; returns the ``(k, d)`` centres."""
    n = len(x)
    gen = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
    centres = x[torch.randint(n, (1,), generator=gen)]
    d2 = _sq_dist(x, centres)[:, 0]
    for _ in range(1, k):
        total = float(d2.sum())
        nxt = (torch.multinomial(d2 / total, 1, generator=gen) if total > 0
               else torch.randint(n, (1,), generator=gen))
        centres = torch.cat([centres, x[nxt]])
        d2 = torch.minimum(d2, _sq_dist(x, x[nxt])[:, 0])
    for _ in range(iters):
        assign = _sq_dist(x, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        new = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
        if torch.allclose(new, centres):
            break
        centres = new
    return centres


def nearest_to_centres(x: torch.Tensor, centres: torch.Tensor) -> np.ndarray:
    """For each centre the nearest row of x, each row used at most once (greedy by distance)."""
    d = _sq_dist(centres, x)
    chosen = []
    taken = torch.zeros(len(x), dtype=torch.bool)
    order = d.min(1).values.argsort()
    for c in order.tolist():
        row = d[c].masked_fill(taken, float("inf"))
        j = int(row.argmin())
        taken[j] = True
        chosen.append(j)
    return np.asarray(chosen, dtype=np.int64)


def typicality(x: torch.Tensor, rows: np.ndarray, k: int = 20, chunk: int = 256) -> torch.Tensor:
    """Typicality of ``x[rows]`` among all rows of x (TypiClust, Hacohen et al., ICML 2022): the
    inverse of the mean distance to the ``k`` nearest other rows, so high in dense regions.
    Chunked: ``chunk`` x N distances at a time."""
    rows = torch.as_tensor(np.asarray(rows, dtype=np.int64))
    k = min(k, len(x) - 1)
    if k < 1:
        return torch.ones(len(rows), dtype=x.dtype)
    out = torch.empty(len(rows), dtype=x.dtype)
    norms = (x * x).sum(1)
    for i in range(0, len(rows), chunk):
        a = x[rows[i:i + chunk]]
        # |a|^2 is the same along a row: rank by |x|^2 - 2 a.x and add it to the k kept only
        partial = torch.addmm(norms.expand(len(a), -1), a, x.T, alpha=-2)
        nearest = partial.topk(k + 1, dim=1, largest=False).values[:, 1:]  # the row itself is the nearest
        dist = (nearest + (a * a).sum(1, keepdim=True)).clamp_min(0).sqrt()
        out[i:i + chunk] = 1.0 / dist.mean(1).clamp_min(1e-12)
    return out


def most_typical_per_cluster(x: torch.Tensor, centres: torch.Tensor, typ: torch.Tensor) -> np.ndarray:
    """For each centre the most typical of the rows nearest to it; a centre that is nearest to no
    row takes the nearest row not yet taken."""
    d = _sq_dist(x, centres)
    assign = d.argmin(1)
    chosen = np.full(len(centres), -1, dtype=np.int64)
    taken = torch.zeros(len(x), dtype=torch.bool)
    for c in assign.unique().tolist():  # clusters hold disjoint rows: no conflicts in this pass
        j = int(torch.where(assign == c, typ, torch.tensor(-float("inf"), dtype=typ.dtype)).argmax())
        chosen[c], taken[j] = j, True
    for c in np.flatnonzero(chosen < 0).tolist():
        j = int(d[:, c].masked_fill(taken, float("inf")).argmin())
        chosen[c], taken[j] = j, True
    return chosen


def propagated_features(state: PoolState, steps: int) -> torch.Tensor:
    """``A^K X`` with A the symmetric-normalised adjacency with self-loops (SGC's operator),
    on the native SpMM; cached in the state, since graph and features are fixed."""
    key = f"propagated:{steps}"
    if key not in state.cache:
        from graphsci.nn.gcn import gcn_norm
        g = _need(state, "graph", "feature propagation")
        x = _need(state, "features", "feature propagation")
        x = x.to_dense() if x.is_sparse else x
        h, w = gcn_norm(g)
        w = w.to(x.dtype)
        for _ in range(steps):
            x = ops.spmm(h, x, w, "u_mul_e")
        state.cache[key] = x
    return state.cache[key]


def principal_components(x: torch.Tensor, dim: int | None) -> torch.Tensor:
    """The rows of x on their leading ``dim`` principal components (x itself when it has no more
    than ``dim`` columns or rows). Up to 512 columns from the exact eigenvectors of the covariance
    (0.07 s for 100k x 128, where a randomized SVD took 2.6 s); wider, by a seeded randomized SVD
    (1.4 s for CiteSeer's 3327 x 3703, where the covariance route took 30 s)."""
    if dim is None or x.shape[1] <= dim or len(x) <= dim:
        return x
    if not torch.isfinite(x).all():
        raise ValueError("features hold NaN or infinite values; principal components would be meaningless")
    centred = x - x.mean(0)
    if x.shape[1] <= 512:
        c64 = centred.to(torch.float64)
        _, vectors = torch.linalg.eigh(c64.T @ c64)
        return (c64 @ vectors[:, -dim:].flip(1)).to(x.dtype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        u, s, _ = torch.svd_lowrank(centred, q=dim, niter=4)
    return u * s


class CoreSetSampling(Strategy):
    """Greedy k-center (Sener & Savarese, ICLR 2018): repeatedly take the unlabelled item
    farthest from everything labelled or already chosen, in the model's embedding space."""

    name = "coreset"

    def _select(self, state, pool, n, rng):
        emb = torch.as_tensor(_need(state, "embeddings", self.name), dtype=torch.float32)
        centres = emb[torch.from_numpy(np.flatnonzero(state.labelled))]
        cand = emb[torch.from_numpy(pool)]
        d = (_sq_dist(cand, centres).min(1).values if len(centres)
             else torch.full((len(pool),), float("inf")))
        chosen = []
        for _ in range(n):
            j = int(d.argmax()) if torch.isfinite(d).any() else int(rng.integers(len(pool)))
            chosen.append(j)
            d = torch.minimum(d, _sq_dist(cand, cand[j:j + 1])[:, 0])
            d[j] = -1.0
        return pool[chosen]


class FeatPropSampling(Strategy):
    """FeatProp (Wu et al., 2019): k-means on the K-step propagated features, then the node
    nearest each centre. The paper picks its whole budget at once (as many clusters as labels);
    asked batch by batch, it clusters the queried and unlabelled nodes into as many clusters as
    there will be labels after this batch, and queries the nodes nearest the centres of the
    clusters that hold no queried node, largest first. (Clustering only the unlabelled nodes
    into a batch's worth of clusters finds nearly the same centres every round and spends the
    budget on a few regions: 71 % on Cora against 78 % for random picks, 10 seeds.)
    Model-free."""

    name = "featprop"

    def __init__(self, steps: int = 2):
        self.steps = steps

    def _select(self, state, pool, n, rng):
        if state.queried is not None and np.shape(state.queried) != np.shape(state.labelled):
            raise ValueError(f"queried has shape {np.shape(state.queried)}, labelled {np.shape(state.labelled)}")
        known = np.flatnonzero(state.queried) if state.queried is not None else np.zeros(0, dtype=np.int64)
        ids = torch.from_numpy(np.concatenate([known, pool]))
        x = propagated_features(state, self.steps)[ids]
        centres = kmeans(x, min(len(ids), len(known) + n), rng)
        assign = _sq_dist(x, centres).argmin(1)
        size = torch.bincount(assign, minlength=len(centres))
        covered = torch.zeros(len(centres), dtype=torch.bool)
        covered[assign[: len(known)]] = True
        # uncovered clusters by size, then (when too few) covered ones by size
        order = torch.from_numpy(np.lexsort((-size.numpy(), covered.numpy())))
        return pool[nearest_to_centres(x[len(known):], centres[order[:n]])]


class AGESampling(Strategy):
    """AGE (Cai et al., 2017): a weighted sum of the percentiles of entropy, density (closeness to
    a k-means centre of the embeddings) and PageRank centrality. The centrality weight starts
    high and decays as the model becomes trustworthy: gamma ~ Beta(1, 1.005 - basef^round),
    alpha = beta = (1 - gamma) / 2 (the published schedule, basef 0.9)."""

    name = "age"

    def __init__(self, basef: float = 0.9, n_clusters: int | None = None):
        self.basef, self.n_clusters = basef, n_clusters

    def _select(self, state, pool, n, rng):
        proba = _need(state, "proba", self.name)
        emb = torch.as_tensor(_need(state, "embeddings", self.name), dtype=torch.float32)
        if "pagerank" not in state.cache:
            state.cache["pagerank"] = pagerank(_need(state, "graph", self.name))
        k = self.n_clusters or proba.shape[1]
        centres = kmeans(emb, min(k, len(emb)), rng)
        density = 1.0 / (1.0 + _sq_dist(emb[torch.from_numpy(pool)], centres).min(1).values.sqrt().numpy())
        pct = lambda v: (np.argsort(np.argsort(v)) / max(len(v) - 1, 1))  # noqa: E731
        gamma = rng.beta(1, 1.005 - self.basef ** state.round)
        alpha = beta = (1 - gamma) / 2
        score = (alpha * pct(uncertainty_scores(proba[pool])) + beta * pct(density)
                 + gamma * pct(state.cache["pagerank"][pool]))
        return _top(score, pool, n, rng)


class ScatterSample(Strategy):
    """ScatterSample (Dai et al., LoG 2022): uncertain *and* diverse.

    1. take the ``candidates`` most uncertain unlabelled items (M; default 10 x the batch:
       large enough to hold several distinct regions of the graph, small enough to stay among
       the items the model is unsure of). Uncertainty is the ``margin`` between the two most
       likely classes by default: entropy also rewards probability spread over classes that are
       not in contention, and margin chose better batches on Cora and CiteSeer (10 seeds each,
       GCN on raw 0/1 features: 81.4 vs 81.0 and 69.8 vs 69.0); for two classes the two rank
       items alike;
    2. represent them by their input features propagated ``steps`` times over the graph
       (K = 2, as SGC: neighbourhoods of two hops describe a node's region); without a graph
       (molecule pools) the model embeddings are used instead. With more than ``dim`` feature
       columns the propagated features of the whole pool are projected on their leading ``dim``
       principal components (computed once): bag-of-words rows have thousands of sparse columns
       whose word-level noise dominates Euclidean distances, while the leading components hold
       the topics (as in latent semantic analysis). ``dim=None`` keeps the raw columns;
    3. k-means them into as many clusters as the batch size, so one batch never spends two
       labels on the same region, and query one item per cluster: with ``pick="typical"`` the
       cluster's most *typical* candidate (highest :func:`typicality` among the whole pool, k = 20
       neighbours), with ``pick="centre"`` (the paper's choice) the one nearest the centre. A few
       hundred labels is the low-budget regime, where labels on typical items carry over to more
       of the pool than labels on outliers (TypiClust, Hacohen et al., ICML 2022): at 20 labels
       per class, typical against centre picks gave Cora 82.3 vs 81.4 % and CiteSeer 71.8 vs
       70.6 % (20 seeds each; benchmarks/ACTIVE_LEARNING.md has the full comparison, and the raw
       columns against 64 components).
    """

    name = "scattersample"

    def __init__(self, candidates: int | None = None, candidate_factor: int = 10, steps: int = 2,
                 measure: str = "margin", dim: int | None = 64, pick: str = "typical"):
        uncertainty_scores(np.full((1, 2), 0.5), measure)
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1):
            raise ValueError(f"dim must be a positive number of components or None, got {dim!r}")
        if pick not in ("typical", "centre"):
            raise ValueError(f"pick must be 'typical' or 'centre', got {pick!r}")
        self.candidates, self.candidate_factor, self.steps, self.measure = candidates, candidate_factor, steps, measure
        self.dim, self.pick = dim, pick

    def _select(self, state, pool, n, rng):
        proba = _need(state, "proba", self.name)
        m = min(len(pool), max(n, self.candidates or self.candidate_factor * n))
        cand = _top(uncertainty_scores(proba[pool], self.measure), pool, m, rng)
        if state.graph is not None and state.features is not None:
            key = f"scatter-space:{self.steps}:{self.dim}"
            if key not in state.cache:  # the pool is fixed: once per run
                state.cache[key] = principal_components(propagated_features(state, self.steps), self.dim)
            space = state.cache[key]
        else:  # model embeddings change every round: nothing to cache
            key, space = None, torch.as_tensor(_need(state, "embeddings", self.name), dtype=torch.float32)
        x = space[torch.from_numpy(cand)]
        centres = kmeans(x, n, rng)
        if self.pick == "centre":
            return cand[nearest_to_centres(x, centres)]
        if key is None:
            typ = typicality(space, cand)
        else:  # a node's typicality is fixed with the space: computed once, for candidates only
            known = state.cache.setdefault(f"typicality:{key}",
                                           torch.full((len(space),), float("nan"), dtype=space.dtype))
            todo = cand[torch.isnan(known[torch.from_numpy(cand)]).numpy()]
            if len(todo):
                known[torch.from_numpy(todo)] = typicality(space, todo)
            typ = known[torch.from_numpy(cand)]
        return cand[most_typical_per_cluster(x, centres, typ)]


STRATEGIES = {
    "random": RandomSampling, "uncertainty": UncertaintySampling,
    "margin": lambda: UncertaintySampling("margin"),
    "least_confidence": lambda: UncertaintySampling("least_confidence"),
    "degree": lambda: CentralitySampling("degree"), "pagerank": lambda: CentralitySampling("pagerank"),
    "coreset": CoreSetSampling, "featprop": FeatPropSampling, "age": AGESampling,
    "scattersample": ScatterSample,
}


def make_strategy(name: str) -> Strategy:
    """A strategy by name (see :data:`STRATEGIES`)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]()
