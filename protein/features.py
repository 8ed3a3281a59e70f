"""Per-residue features: residue type, physico-chemical scales and the feature layout of edges."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphsci.protein.structure import ONE_LETTER, UNKNOWN

# Per amino acid in ONE_LETTER order (ARNDCQEGHILKMFPSTWYV). Standardised over the 20 residues
# below, so every scale enters the network on the same footing; unknown residues get 0 (the mean).
_SCALES = {
    # Kyte & Doolittle, J. Mol. Biol. 157:105 (1982)
    "hydropathy": [1.8, -4.5, -3.5, -3.5, 2.5, -3.5, -3.5, -0.4, -3.2, 4.5,
                   3.8, -3.9, 1.9, 2.8, -1.6, -0.8, -0.7, -0.9, -1.3, 4.2],
    # residue volume in A^3, Zamyatnin, Prog. Biophys. Mol. Biol. 24:107 (1972)
    "volume": [88.6, 173.4, 114.1, 111.1, 108.5, 143.8, 138.4, 60.1, 153.2, 166.7,
               166.7, 168.6, 162.9, 189.9, 112.7, 89.0, 116.1, 227.8, 193.6, 140.0],
    # polarity, Grantham, Science 185:862 (1974)
    "polarity": [8.1, 10.5, 11.6, 13.0, 5.5, 10.5, 12.3, 9.0, 10.4, 5.2,
                 4.9, 11.3, 5.7, 5.2, 8.0, 9.2, 8.6, 5.4, 6.2, 5.9],
    "isoelectric_point": [6.00, 10.76, 5.41, 2.77, 5.07, 5.65, 3.22, 5.97, 7.59, 6.02,
                          5.98, 9.74, 5.74, 5.48, 6.30, 5.68, 5.60, 5.89, 5.66, 5.96],
    "charge_ph7": [0, 1, 0, -1, 0, 0, -1, 0, 0.1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    # Chou & Fasman helix and sheet propensities, Adv. Enzymol. 47:45 (1978)
    "helix_propensity": [1.42, 0.98, 0.67, 1.01, 0.70, 1.11, 1.51, 0.57, 1.00, 1.08,
                         1.21, 1.16, 1.45, 1.13, 0.57, 0.77, 0.83, 1.08, 0.69, 1.06],
    "sheet_propensity": [0.83, 0.93, 0.89, 0.54, 1.19, 1.10, 0.37, 0.75, 0.87, 1.60,
                         1.30, 0.74, 1.05, 1.38, 0.55, 0.75, 1.19, 1.37, 1.47, 1.70],
}
SCALE_NAMES = tuple(_SCALES)


def _scale_table() -> np.ndarray:
    raw = np.array([_SCALES[k] for k in SCALE_NAMES], dtype=np.float64).T  # (20, scales)
    table = np.zeros((len(ONE_LETTER) + 1, len(SCALE_NAMES)), dtype=np.float32)
    table[:UNKNOWN] = (raw - raw.mean(0)) / raw.std(0)
    return table


SCALE_TABLE = _scale_table()
ANGLE_NAMES = ("sin_phi", "cos_phi", "sin_psi", "cos_psi", "sin_omega", "cos_omega",
               "sin_ca_angle", "cos_ca_angle", "sin_ca_torsion", "cos_ca_torsion")


@dataclass(frozen=True)
class FeatureLayout:
    """Sizes of the residue-graph features.

    Node: residue type one-hot (20 + unknown), :data:`SCALE_NAMES` scales, :data:`ANGLE_NAMES`
    (backbone dihedrals and the Calpha-trace angle and torsion as sin/cos, 0 where undefined),
    then ``embedding_dim`` user-supplied columns. Edge: ``n_rbf`` Gaussian radial basis values
    of the distance on [0, ``rbf_max``] A, the unit direction to the neighbour in the residue's
    local frame (3), the relative orientation of the two frames as a quaternion (4), the
    sequence offset clipped to +-``max_offset`` one-hot plus an "other chain" slot, and a
    same-chain flag.
    """

    n_rbf: int = 16
    rbf_max: float = 20.0
    max_offset: int = 16
    embedding_dim: int = 0

    @property
    def node_size(self) -> int:
        return UNKNOWN + 1 + len(SCALE_NAMES) + len(ANGLE_NAMES) + self.embedding_dim

    @property
    def edge_size(self) -> int:
        return self.n_rbf + 3 + 4 + 2 * self.max_offset + 2 + 1


def node_features(residue_type: np.ndarray, angles: np.ndarray, embeddings=None) -> np.ndarray:
    """``(n, FeatureLayout.node_size)`` float32."""
    n = len(residue_type)
    onehot = np.zeros((n, UNKNOWN + 1), dtype=np.float32)
    onehot[np.arange(n), residue_type] = 1.0
    parts = [onehot, SCALE_TABLE[residue_type], angles.astype(np.float32)]
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != n:
            raise ValueError(f"embeddings must have one row per residue: shape {emb.shape} for {n} residues")
        if not np.isfinite(emb).all():
            raise ValueError("embeddings contain NaN or infinite values")
        parts.append(emb)
    return np.concatenate(parts, axis=1)
