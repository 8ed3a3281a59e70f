"""Labelled protein sets from ../shared/data/proteins/labelled: KLIFS kinase pockets (DFG-in vs
DFG-out from pocket Calpha coordinates) and HIV-1 protease structures (flap open vs closed)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphsci.data.paths import data_root
from graphsci.protein.graphs import ProteinGraph, residue_graph_from_coordinates

KLIFS_POSITIONS = 85  # KLIFS pocket positions 1-85, the same index in every kinase


@dataclass
class KlifsPockets:
    """``graphs[i]`` is pocket ``ids[i]``; ``y`` is 1 for DFG-out, 0 for DFG-in;
    ``positions[i]`` the KLIFS positions present; ``coords[i]`` their Calpha coordinates."""

    ids: np.ndarray
    y: np.ndarray
    positions: list
    coords: list
    graphs: list


def klifs_position_embedding(positions) -> np.ndarray:
    """One-hot of the KLIFS pocket position (1-85): which structurally equivalent site a node is."""
    positions = np.asarray(positions, dtype=np.int64)
    if ((positions < 1) | (positions > KLIFS_POSITIONS)).any():
        raise ValueError(f"KLIFS positions must lie in 1..{KLIFS_POSITIONS}")
    out = np.zeros((len(positions), KLIFS_POSITIONS), dtype=np.float32)
    out[np.arange(len(positions)), positions - 1] = 1.0
    return out


def klifs_pocket_graph(positions, coords, name="pocket", cutoff=10.0) -> ProteinGraph:
    """The graph of one pocket: Calpha nodes with their KLIFS position as the embedding,
    edges within ``cutoff`` A and between consecutive positions, frames from the Calpha trace.
    Consecutive positions are only sequence neighbours when they are adjacent in the chain,
    which the trace's 4.2 A step test decides (gaps between pocket segments break it)."""
    positions = np.asarray(positions)
    order = np.argsort(positions, kind="stable")
    positions, coords = positions[order], np.asarray(coords, dtype=np.float64)[order]
    return residue_graph_from_coordinates(coords, name=name, cutoff=cutoff,
                                          embeddings=klifs_position_embedding(positions))


def load_klifs(root=None, limit: int | None = None, cutoff: float = 10.0) -> KlifsPockets:
    """DFG-in (0) and DFG-out (1) pockets with coordinates; other annotations are left out.
    Positions with missing coordinates are dropped. ``limit`` keeps the first structures
    (by id) for quick runs."""
    folder = data_root(root) / "proteins" / "labelled" / "klifs_kinase_pocket_ca"
    table = pd.read_csv(folder / "pocket_residue_ca_atom_coordinates.csv.gz")
    table = table.dropna(subset=["atom.x", "atom.y", "atom.z"])
    dfg_in = set(np.loadtxt(folder / "structure_klifs_ids_dfg_in.txt", dtype=np.int64).tolist())
    dfg_out = set(np.loadtxt(folder / "structure_klifs_ids_dfg_out.txt", dtype=np.int64).tolist())
    table = table[table["structure.klifs_id"].isin(dfg_in | dfg_out)]
    ids, ys, positions, coords, graphs = [], [], [], [], []
    for sid, rows in table.groupby("structure.klifs_id", sort=True):
        if limit is not None and len(ids) >= limit:
            break
        pos = rows["residue.ix"].to_numpy()
        xyz = rows[["atom.x", "atom.y", "atom.z"]].to_numpy(dtype=np.float64)
        ids.append(int(sid))
        ys.append(1 if sid in dfg_out else 0)
        positions.append(pos)
        coords.append(xyz)
        graphs.append(klifs_pocket_graph(pos, xyz, name=f"klifs_{sid}", cutoff=cutoff))
    return KlifsPockets(np.asarray(ids), np.asarray(ys, dtype=np.int64), positions, coords, graphs)


def load_protease(root=None) -> pd.DataFrame:
    """HIV-1 protease structures: ``pdb_id``, ``path`` (absolute), ``ligand_state``,
    ``flap_state`` and ``flap_open`` (1 = open)."""
    folder = data_root(root) / "proteins" / "labelled" / "hiv1_protease_states"
    df = pd.read_csv(folder / "labels.csv")
    df["path"] = [str(folder / f) for f in df["file"]]
    df["flap_open"] = (df["flap_state"] == "open").astype(np.int64)
    return df
