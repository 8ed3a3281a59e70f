"""Pure numpy + scipy twins of the native residue-graph routines (csrc/geometry.h).

They are the test oracles of the native path and the "cKDTree + numpy" construction the
benchmark measures against; :func:`graph_from_distance_map` also assembles its features here.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

PEPTIDE_BOND, CA_STEP = 2.0, 4.2


def neighbour_edges(pos, chain, cutoff=10.0, k=0, min_seq_sep=0, sequence_edges=True):
    """(src, dst) grouped by dst, src ascending within a group, like the native search."""
    n = len(pos)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    tree = cKDTree(pos)
    idx = np.arange(n)
    if k:
        kk = min(n, k + 1 + 2 * max(min_seq_sep, 0))
        dist, nb = tree.query(pos, kk, distance_upper_bound=np.inf if cutoff is None else cutoff)
        dist, nb = dist.reshape(n, -1), nb.reshape(n, -1)
        dst = np.repeat(idx, nb.shape[1])
        src, d = nb.ravel(), dist.ravel()
        ok = (src < n) & (src != dst)
    else:
        pairs = tree.query_pairs(cutoff, output_type="ndarray")
        src = np.concatenate([pairs[:, 0], pairs[:, 1]])
        dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
        d = np.zeros(len(src))
        ok = np.ones(len(src), dtype=bool)
    src, dst, d = src[ok], dst[ok], d[ok]
    keep = ~((chain[src] == chain[dst]) & (np.abs(src - dst) < min_seq_sep))
    src, dst, d = src[keep], dst[keep], d[keep]
    if k:  # the k nearest left after the sequence-separation filter, ties by index
        order = np.lexsort((src, d, dst))
        src, dst = src[order], dst[order]
        rank = np.arange(len(dst)) - np.searchsorted(dst, dst)
        src, dst = src[rank < k], dst[rank < k]
    if sequence_edges and n > 1:
        same = chain[1:] == chain[:-1]
        a = idx[:-1][same]
        src = np.concatenate([src, a, a + 1])
        dst = np.concatenate([dst, a + 1, a])
    pairs = np.unique(np.stack([dst, src], 1), axis=0)
    return pairs[:, 1].astype(np.int64), pairs[:, 0].astype(np.int64)


def _unit(v):
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    ok = (n > 1e-8) & np.isfinite(n)
    return np.where(ok, v / np.where(ok, n, 1.0), 0.0), ok[..., 0]


def _dihedral(a, b, c, d):
    b0, b1, b2 = a - b, c - b, d - c
    u, ok = _unit(b1)
    v = b0 - (b0 * u).sum(-1, keepdims=True) * u
    w = b2 - (b2 * u).sum(-1, keepdims=True) * u
    x, y = (v * w).sum(-1), (np.cross(u, v) * w).sum(-1)
    ok &= np.isfinite(x) & np.isfinite(y) & ((x != 0) | (y != 0))
    return np.where(ok, np.arctan2(np.where(ok, y, 0), np.where(ok, x, 1)), 0.0), ok


def backbone_geometry(backbone, chain, ca_only=False):
    """(frames (n, 3, 3), angles (n, 10)) as in csrc/geometry.h."""
    n = len(backbone)
    N, CA, C = backbone[:, 0], backbone[:, 1], backbone[:, 2]
    frames, angles = np.zeros((n, 3, 3)), np.zeros((n, 10))
    # linked[i]: residue i + 1 continues i's chain
    linked = np.zeros(n + 1, dtype=bool)
    if n > 1:
        linked[:n - 1] = (chain[1:] == chain[:-1]) & (np.linalg.norm(CA[1:] - CA[:-1], axis=1) <= CA_STEP)
    prev_link = np.concatenate([[False], linked[:n - 1]])  # i - 1 -> i
    next_link = linked[:n]
    with np.errstate(invalid="ignore"):
        bond = np.zeros(n + 1, dtype=bool)
        if n > 1:
            bond[:n - 1] = linked[:n - 1] & (np.linalg.norm(N[1:] - C[:-1], axis=1) <= PEPTIDE_BOND)
    prev_bond, next_bond = np.concatenate([[False], bond[:n - 1]]), bond[:n]
    full = np.isfinite(N).all(1) & np.isfinite(C).all(1) & (not ca_only)
    x, okx = _unit(np.nan_to_num(C - CA))
    y = np.nan_to_num(N - CA)
    y, oky = _unit(y - (y * x).sum(-1, keepdims=True) * x)
    have = full & okx & oky
    frames[have] = np.stack([x, y, np.cross(x, y)], 1)[have]
    ca_prev = np.roll(CA, 1, 0)
    ca_next = np.roll(CA, -1, 0)
    u1, ok1 = _unit(CA - ca_prev)
    u2, ok2 = _unit(ca_next - CA)
    b, okb = _unit(u1 - u2)
    nrm, okn = _unit(np.cross(u1, u2))
    trace = ~have & prev_link & next_link & ok1 & ok2 & okb & okn
    frames[trace] = np.stack([b, nrm, np.cross(b, nrm)], 1)[trace]
    if not ca_only:
        c_prev, n_next, ca_nn = np.roll(C, 1, 0), np.roll(N, -1, 0), np.roll(CA, -1, 0)
        fin = np.isfinite(N).all(1) & np.isfinite(C).all(1)
        phi, okp = _dihedral(c_prev, N, CA, C)
        psi, oks = _dihedral(N, CA, C, n_next)
        omg, oko = _dihedral(CA, C, n_next, ca_nn)
        for col, ang, ok in ((0, phi, okp & prev_bond & fin), (2, psi, oks & next_bond & np.isfinite(N).all(1)),
                             (4, omg, oko & next_bond & np.isfinite(N).all(1))):
            angles[ok, col], angles[ok, col + 1] = np.sin(ang[ok]), np.cos(ang[ok])
    v1, a1 = _unit(ca_prev - CA)
    v2, a2 = _unit(ca_next - CA)
    mid = prev_link & next_link & a1 & a2
    cos = np.clip((v1 * v2).sum(-1), -1, 1)
    angles[mid, 6], angles[mid, 7] = np.sqrt(np.maximum(0, 1 - cos[mid] ** 2)), cos[mid]
    next2 = np.concatenate([linked[1:n], [False]])
    tor, okt = _dihedral(ca_prev, CA, ca_next, np.roll(CA, -2, 0))
    m = prev_link & next_link & next2 & okt
    angles[m, 8], angles[m, 9] = np.sin(tor[m]), np.cos(tor[m])
    return frames, angles


def quaternions(R):
    """(E, 4) quaternions (w >= 0) of rotation matrices (E, 3, 3)."""
    xx, yy, zz = R[:, 0, 0], R[:, 1, 1], R[:, 2, 2]
    w = 0.5 * np.sqrt(np.maximum(0, 1 + xx + yy + zz))
    x = 0.5 * np.sqrt(np.maximum(0, 1 + xx - yy - zz)) * np.sign(R[:, 2, 1] - R[:, 1, 2])
    y = 0.5 * np.sqrt(np.maximum(0, 1 - xx + yy - zz)) * np.sign(R[:, 0, 2] - R[:, 2, 0])
    z = 0.5 * np.sqrt(np.maximum(0, 1 - xx - yy + zz)) * np.sign(R[:, 1, 0] - R[:, 0, 1])
    q = np.stack([w, x, y, z], 1)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(norm > 0, q / np.where(norm > 0, norm, 1), 0.0)


def assemble_edge_features(dist, direction, orientation, offset, same_chain, layout):
    """Edge feature rows from their parts (see FeatureLayout)."""
    E = len(dist)
    out = np.zeros((E, layout.edge_size), dtype=np.float32)
    step = layout.rbf_max / (layout.n_rbf - 1) if layout.n_rbf > 1 else layout.rbf_max
    centres = np.arange(layout.n_rbf) * step
    out[:, :layout.n_rbf] = np.exp(-(((dist[:, None] - centres) / max(step, 1e-6)) ** 2))
    out[:, layout.n_rbf:layout.n_rbf + 3] = direction
    out[:, layout.n_rbf + 3:layout.n_rbf + 7] = orientation
    base = layout.n_rbf + 7
    slot = np.where(same_chain, np.clip(offset, -layout.max_offset, layout.max_offset) + layout.max_offset,
                    2 * layout.max_offset + 1)
    out[np.arange(E), base + slot] = 1.0
    out[:, -1] = same_chain
    return out


def edge_features(pos, frames, chain, src, dst, layout):
    d = pos[src] - pos[dst]
    dist = np.linalg.norm(d, axis=1)
    unit, ok = _unit(d)
    has_frame = np.abs(frames).reshape(len(frames), -1)[:, :3].any(1)
    fi, fj = has_frame[dst], has_frame[src]
    direction = np.einsum("eac,ec->ea", frames[dst], unit) * (fi & ok)[:, None]
    R = np.einsum("eac,ebc->eab", frames[dst], frames[src])
    orientation = quaternions(R) * (fi & fj)[:, None]
    return assemble_edge_features(dist, direction, orientation, src - dst, chain[src] == chain[dst], layout)
