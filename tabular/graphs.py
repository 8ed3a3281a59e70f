"""Graphs from tables: relational schemas (primary and foreign keys), k-nearest neighbours on
columns, and edge lists."""
from __future__ import annotations

import warnings
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from graphsci.graph import Graph


def _symmetric_graph(rows: np.ndarray, cols: np.ndarray, n: int) -> Graph:
    """Both directions of each pair once, no self-loops, sorted (deterministic edge order)."""
    m = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    m = ((m + m.T) > 0).astype(np.int8)
    m.setdiag(0)
    m.eliminate_zeros()
    m = m.tocoo()
    order = np.lexsort((m.col, m.row))
    return Graph(torch.from_numpy(m.row[order].astype(np.int64)), torch.from_numpy(m.col[order].astype(np.int64)), n)


def knn_graph(df: pd.DataFrame, columns: Sequence[str], k: int = 10, standardize: bool = False) -> Graph:
    """Each row linked to its ``k`` nearest rows (Euclidean on ``columns``), symmetrised: an
    undirected graph without self-loops. Rows with NaN in ``columns`` are an error."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the table (columns: {', '.join(map(str, df.columns))})")
    values = df[list(columns)].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values).all(1))
    if len(bad):
        raise ValueError(f"{len(bad)} rows have NaN/inf in {list(columns)} (first: row {bad[0]}); "
                         f"impute or drop them first")
    if not 1 <= k < len(df):
        raise ValueError(f"k must be in [1, {len(df) - 1}] for {len(df)} rows, got {k}")
    if standardize:
        values = (values - values.mean(0)) / np.where(values.std(0) > 0, values.std(0), 1.0)
    from scipy.spatial import cKDTree

    _, idx = cKDTree(values).query(values, k=k + 1)
    rows = np.repeat(np.arange(len(df)), k + 1)
    return _symmetric_graph(rows, idx.reshape(-1), len(df))


def graph_from_edgelist(edges, ids: Sequence | None = None, on_missing: str = "raise") -> Graph:
    """An undirected graph from pairs of node ids (``(m, 2)`` array or a two-column DataFrame).
    With ``ids`` (the node order, e.g. a table's key column) the pairs are looked up in it; a pair
    naming an unknown id raises (``on_missing="drop"`` drops it with a warning)."""
    pairs = edges.to_numpy() if isinstance(edges, pd.DataFrame) else np.asarray(edges)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"edges must be (m, 2) pairs, got shape {pairs.shape}")
    if ids is None:
        if len(pairs) and (pairs.min() < 0 or not np.issubdtype(pairs.dtype, np.integer)):
            raise ValueError("without ids, edges must be non-negative integer node indices")
        n = int(pairs.max()) + 1 if len(pairs) else 0
        return _symmetric_graph(pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), n)
    index = pd.Index(ids)
    if not index.is_unique:
        raise ValueError("ids must be unique")
    src, dst = index.get_indexer(pairs[:, 0]), index.get_indexer(pairs[:, 1])
    bad = (src < 0) | (dst < 0)
    if bad.any():
        example = pairs[np.flatnonzero(bad)[0]]
        message = f"{int(bad.sum())} of {len(pairs)} edges name an unknown id (first: {example[0]!r} - {example[1]!r})"
        if on_missing != "drop":
            raise ValueError(message + "; pass on_missing='drop' to drop them")
        warnings.warn(message + "; dropped")
    return _symmetric_graph(src[~bad], dst[~bad], len(index))


class ForeignKey(NamedTuple):
    table: str
    column: str
    references: str


class RelationalGraph:
    """Tables as a heterogeneous graph: one node type per table (a node per row), one edge type
    per foreign key (row -> the row it references). :meth:`project` turns it into a homogeneous
    graph over one table."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], keys: Mapping[str, str],
                 foreign_keys: Sequence[ForeignKey]):
        self.tables, self.keys, self.foreign_keys = dict(tables), dict(keys), list(foreign_keys)
        self.num_nodes = {name: len(df) for name, df in self.tables.items()}
        self.edges = {}
        for fk in self.foreign_keys:
            column = self.tables[fk.table][fk.column]
            target = pd.Index(self.tables[fk.references][self.keys[fk.references]])
            present = column.notna().to_numpy()           # a missing reference links nothing
            idx = target.get_indexer(column[present])
            if (idx < 0).any():
                bad = column[present].to_numpy()[idx < 0]
                raise ValueError(f"{int((idx < 0).sum())} values of {fk.table}.{fk.column} point to no row of "
                                 f"{fk.references} (first: {bad[0]!r})")
            self.edges[fk] = (np.flatnonzero(present), idx)

    def project(self, target: str, hops: int = 2, link_columns: Sequence[str] = (),
                max_group: int | None = None) -> Graph:
        """Rows of ``target`` linked when they reach a common row within ``hops`` foreign-key
        steps (``target -> a -> b``: sharing ``a`` or ``b``), or share a value in one of the
        ``link_columns`` of ``target`` (a denormalised key counts as one step). A normalised
        schema and its denormalised form give the same graph. Entities reached by more than
        ``max_group`` rows are skipped (with a warning) to keep the graph sparse."""
        if target not in self.tables:
            raise ValueError(f"unknown table {target!r}; tables: {', '.join(self.tables)}")
        n = self.num_nodes[target]
        steps = {fk: sp.csr_matrix((np.ones(len(src)), (src, dst)),
                                   shape=(self.num_nodes[fk.table], self.num_nodes[fk.references]))
                 for fk, (src, dst) in self.edges.items()}
        # reach[table]: which rows of `table` each target row reaches within the hops, following
        # foreign keys either way (person -> address, or author <- paper_author -> paper).
        frontier = {target: sp.identity(n, format="csr")}
        reach: dict[str, sp.csr_matrix] = {}
        for _ in range(hops):
            nxt: dict[str, sp.csr_matrix] = {}
            for fk, m in steps.items():
                for here, there, op in ((fk.table, fk.references, m), (fk.references, fk.table, m.T)):
                    if here in frontier:
                        f = (frontier[here] @ op).tocsr()
                        nxt[there] = f if there not in nxt else nxt[there] + f
            for table, f in nxt.items():
                if table != target:
                    reach[table] = f if table not in reach else reach[table] + f
            frontier = nxt
        blocks = [reach[t] for t in sorted(reach)]
        table = self.tables[target]
        for col in link_columns:
            if col not in table.columns:
                raise ValueError(f"link column {col!r} not in table {target!r}")
            codes, uniques = pd.factorize(table[col])        # NaN -> -1: links nothing
            ok = codes >= 0
            blocks.append(sp.csr_matrix((np.ones(int(ok.sum())), (np.flatnonzero(ok), codes[ok])),
                                        shape=(n, len(uniques))))
        if not blocks:
            return Graph(torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), n)
        incidence = (sp.hstack(blocks).tocsr() > 0).astype(np.float64)
        if max_group is not None:
            sizes = np.asarray(incidence.sum(0)).ravel()
            big = sizes > max_group
            if big.any():
                warnings.warn(f"{int(big.sum())} entities are shared by more than {max_group} rows and were skipped")
                incidence = incidence[:, np.flatnonzero(~big)]
        co = (incidence @ incidence.T).tocoo()
        return _symmetric_graph(co.row, co.col, n)


def graph_from_tables(tables: Mapping[str, pd.DataFrame], keys: Mapping[str, str],
                      foreign_keys: Sequence[tuple[str, str, str]] | None = None) -> RelationalGraph:
    """A :class:`RelationalGraph`. ``keys`` names each table's primary-key column (unique, no
    NaN). Foreign keys are ``(table, column, referenced table)``; without them, a column named like
    another table's primary key is taken as a reference to it."""
    for name, df in tables.items():
        if name not in keys:
            raise ValueError(f"no primary key given for table {name!r}")
        key = keys[name]
        if key not in df.columns:
            raise ValueError(f"primary key {key!r} is not a column of table {name!r}")
        if df[key].isna().any() or not df[key].is_unique:
            raise ValueError(f"primary key {name}.{key} must be unique and never empty")
    if foreign_keys is None:
        foreign_keys = [(t, keys[r], r) for t, df in tables.items() for r in tables
                        if r != t and keys[r] in df.columns]
    fks = []
    for t, col, ref in foreign_keys:
        if t not in tables or ref not in tables:
            raise ValueError(f"foreign key ({t}, {col}, {ref}) names an unknown table")
        if col not in tables[t].columns:
            raise ValueError(f"foreign key column {t}.{col} does not exist")
        fks.append(ForeignKey(t, col, ref))
    return RelationalGraph(tables, keys, fks)
