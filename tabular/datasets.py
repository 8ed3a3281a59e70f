"""Node datasets from ../shared/data/tabular_graphs: County (US counties, census adjacency) and
House (California block groups, k-NN on location) for regression, DBLP (authors in four research
areas, co-authorship from the relational projection) for classification; each with 5 fixed
random 60/20/20 splits (seeds 0-4)."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from graphsci.data import data_root
from graphsci.graph import Graph
from graphsci.tabular.graphs import graph_from_edgelist, graph_from_tables, knn_graph

SPLIT_SEEDS = (0, 1, 2, 3, 4)


class TabularGraphData(NamedTuple):
    X: pd.DataFrame          # node features (categorical columns as pandas categoricals)
    y: np.ndarray            # targets, (nodes,)
    graph: Graph
    ids: np.ndarray          # node ids (FIPS codes, row numbers)
    splits: list             # [{"train", "val", "test"} index arrays] for SPLIT_SEEDS
    task: str
    target: str
    standard_split: dict | None = None   # the split published with the dataset, where there is one


def random_splits(n: int, seeds=SPLIT_SEEDS, fractions=(0.6, 0.2, 0.2)) -> list[dict]:
    out = []
    for seed in seeds:
        perm = np.random.default_rng(seed).permutation(n)
        a, b = int(round(fractions[0] * n)), int(round((fractions[0] + fractions[1]) * n))
        out.append({"train": np.sort(perm[:a]), "val": np.sort(perm[a:b]), "test": np.sort(perm[b:])})
    return out


def _read_adjacency(path: Path) -> pd.DataFrame:
    """Census county adjacency: a county's FIPS is given on the first line of its block only."""
    pairs, current = [], None
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            if parts[1].strip():
                current = int(parts[1])
            if current is not None and parts[3].strip():
                pairs.append((current, int(parts[3])))
    return pd.DataFrame(pairs, columns=["fips", "neighbour"])


def load_county(root=None) -> TabularGraphData:
    """US counties: target the 2016 unemployment rate; features the other 2016 variables
    (median income, net migration, birth and death rates, bachelor rate, Democratic vote
    share), as in the residual-correlation / BGNN County task. Nodes: counties present in all
    five tables and the adjacency file (state and national rows dropped)."""
    folder = data_root(root) / "tabular_graphs" / "county_election"
    num = dict(thousands=",")
    election = pd.read_csv(folder / "election.csv").rename(columns={"fips_code": "FIPS"})
    election["dem_share_2016"] = election["dem_2016"] / election["total_2016"]
    education = pd.read_csv(folder / "education.csv")
    income = pd.read_csv(folder / "income.csv", **num)
    population = pd.read_csv(folder / "population.csv", **num, low_memory=False)
    unemployment = pd.read_csv(folder / "unemployment.csv", **num, low_memory=False)
    unemployment.columns = unemployment.columns.str.strip()
    table = (election[["FIPS", "dem_share_2016"]]
             .merge(education[["FIPS", "BachelorRate2016"]], on="FIPS")
             .merge(income[["FIPS", "MedianIncome2016"]], on="FIPS")
             .merge(population[["FIPS", "R_NET_MIG_2016", "R_birth_2016", "R_death_2016"]], on="FIPS")
             .merge(unemployment[["FIPS", "Unemployment_rate_2016"]], on="FIPS"))
    table = table[table["FIPS"] % 1000 != 0]
    adjacency = _read_adjacency(folder / "adjacency.txt")
    table = table[table["FIPS"].isin(adjacency["fips"])].dropna().sort_values("FIPS").reset_index(drop=True)
    adjacency = adjacency[adjacency["fips"].isin(table["FIPS"]) & adjacency["neighbour"].isin(table["FIPS"])]
    graph = graph_from_edgelist(adjacency[["fips", "neighbour"]], ids=table["FIPS"].to_numpy())
    target = "Unemployment_rate_2016"
    X = table.drop(columns=["FIPS", target]).astype(np.float64)
    return TabularGraphData(X, table[target].to_numpy(np.float64), graph, table["FIPS"].to_numpy(),
                            random_splits(len(table)), "regression", target)


def load_house(root=None, k: int = 10) -> TabularGraphData:
    """California housing block groups: target median house value in units of $100,000;
    features the other columns (``ocean_proximity`` categorical, missing ``total_bedrooms`` left
    NaN for the GBDT). Graph: ``k`` nearest neighbours on latitude/longitude, symmetrised."""
    df = pd.read_csv(data_root(root) / "tabular_graphs" / "california_housing" / "housing.csv")
    graph = knn_graph(df, ["latitude", "longitude"], k=k)
    X = df.drop(columns=["median_house_value"])
    X["ocean_proximity"] = X["ocean_proximity"].astype("category")
    return TabularGraphData(X, (df["median_house_value"] / 1e5).to_numpy(np.float64), graph,
                            np.arange(len(df)), random_splits(len(df)), "regression", "median_house_value")


DBLP_AREAS = ("Database", "Data Mining", "AI", "Information Retrieval")


def load_dblp(root=None) -> TabularGraphData:
    """DBLP four areas (the MAGNN/HAN subset): 4,057 authors, each labelled with one research
    area (:data:`DBLP_AREAS`). Features: the author's bag of words (451 counts, one column per
    word). Graph: the relational projection of the schema author <- authorship -> paper onto
    authors, two foreign-key steps (authors who share a paper: the author-paper-author
    metapath). ``y`` holds area names; ``standard_split`` is MAGNN's 400 / 400 / 3,257."""
    import scipy.sparse as sp

    folder = data_root(root) / "tabular_graphs" / "dblp_magnn"
    raw = folder / "raw"
    types = np.load(raw / "node_types.npy")
    adjacency = sp.load_npz(raw / "adjM.npz").tocoo()
    first_paper = int(np.flatnonzero(types == 1)[0])
    pairs = (types[adjacency.row] == 0) & (types[adjacency.col] == 1)
    authorship = pd.DataFrame({"authorship_id": np.arange(int(pairs.sum())),
                               "author_id": adjacency.row[pairs].astype(np.int64),
                               "paper_id": adjacency.col[pairs].astype(np.int64) - first_paper})
    words = [f"word_{w}" for w in np.load(folder / "bag_of_words_author.npy", allow_pickle=True)]
    features = sp.load_npz(raw / "features_0.npz").toarray().astype(np.float64)
    authors = pd.DataFrame(features, columns=words)
    authors.insert(0, "author_id", np.arange(len(authors)))
    papers = pd.DataFrame({"paper_id": np.arange(int((types == 1).sum()))})
    relational = graph_from_tables({"authors": authors, "papers": papers, "authorship": authorship},
                                   keys={"authors": "author_id", "papers": "paper_id",
                                         "authorship": "authorship_id"})
    graph = relational.project("authors", hops=2)
    labels = np.load(raw / "labels.npy")
    split = np.load(raw / "train_val_test_idx.npz")
    return TabularGraphData(authors[words], np.asarray(DBLP_AREAS)[labels], graph, np.arange(len(authors)),
                            random_splits(len(authors)), "classification", "area",
                            {k: np.sort(split[f"{k}_idx"]) for k in ("train", "val", "test")})
