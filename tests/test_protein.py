import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import SHARED_DATA
from graphsci.protein import (FeatureLayout, Structure, StructureError, contact_map, distance_map,
                              graph_from_distance_map, load_structure, reference, residue_graph,
                              residue_graph_from_coordinates)
from graphsci.protein.predictor import ProteinPropertyPredictor

PROTEINS = Path(SHARED_DATA) / "proteins"
STRUCTURES = sorted((PROTEINS / "structures").iterdir())
PROTEASE = PROTEINS / "labelled" / "hiv1_protease_states"


@pytest.mark.parametrize("path", STRUCTURES, ids=lambda p: p.name)
def test_every_structure_loads_and_matches_the_reference_graph(path):
    s = load_structure(path)
    assert len(s) > 10 and np.isfinite(s.ca).all()
    pg = residue_graph(s)
    layout = FeatureLayout()
    assert pg.node_feats.shape == (len(s), layout.node_size)
    assert pg.edge_feats.shape == (pg.graph.num_edges, layout.edge_size)
    chain = s.chain_index
    src, dst = reference.neighbour_edges(s.ca, chain, 10.0)
    assert np.array_equal(src, pg.graph.src.numpy()) and np.array_equal(dst, pg.graph.dst.numpy())
    frames, angles = reference.backbone_geometry(s.backbone, chain)
    np.testing.assert_allclose(pg.edge_feats.numpy(), reference.edge_features(s.ca, frames, chain, src, dst, layout),
                               atol=1e-5)
    np.testing.assert_allclose(pg.node_feats.numpy()[:, 28:38], angles, atol=1e-6)


def test_parsing_details():
    s = load_structure(PROTEINS / "structures" / "1A8O.pdb")  # selenomethionine (MSE) residues
    assert "MSE" in set(s.resname) and s.sequence().count("M") >= (s.resname == "MSE").sum()
    assert "X" not in s.sequence()
    hb = load_structure(PROTEINS / "structures" / "4HHB.pdb")
    assert hb.chains == ["A", "B", "C", "D"] and len(hb.select("A")) == 141
    with pytest.raises(StructureError, match="no chain Z"):
        hb.select("Z")
    with_hetero = load_structure(PROTEINS / "structures" / "4HHB.pdb", keep_hetero=True)
    assert len(with_hetero) > len(hb) and with_hetero.hetero.sum() == len(with_hetero) - len(hb)
    # first model only for NMR ensembles
    nmr = load_structure(PROTEINS / "structures" / "2EQQ.pdb")
    assert len(nmr) == 28
    # angles: phi undefined at the chain start, psi/omega at the end, alpha-helix phi near -60
    pg = residue_graph(hb)
    ang = pg.node_feats.numpy()[:, 28:34]
    assert (ang[0, :2] == 0).all() and (ang[140, 2:6] == 0).all()
    phi = np.degrees(np.arctan2(ang[:, 0], ang[:, 1]))
    assert np.median(phi[ang[:, 1] != 0]) == pytest.approx(-63, abs=10)


def test_gzip_and_cif_give_the_same_residues(tmp_path):
    src = PROTEINS / "structures" / "1GBT.cif"
    gz = tmp_path / "1GBT.cif.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    a, b = load_structure(src), load_structure(gz)
    assert np.array_equal(a.backbone, b.backbone, equal_nan=True) and a.sequence() == b.sequence()


def _rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


@pytest.mark.parametrize("node", ["CA", "CB", "virtual_CB"])
def test_features_are_invariant_to_rotation_and_translation(node):
    s = load_structure(PROTEINS / "structures" / "4GYT.pdb")
    R, t = _rotation(1), np.array([31.0, -7.5, 112.0])
    moved = Structure(s.name, s.backbone @ R.T + t, s.cb @ R.T + t, s.residue_type, s.resname, s.chain_id,
                      s.resseq, s.icode, s.hetero)
    a, b = residue_graph(s, node=node), residue_graph(moved, node=node)
    assert torch.equal(a.graph.src, b.graph.src) and torch.equal(a.graph.dst, b.graph.dst)
    torch.testing.assert_close(a.node_feats, b.node_feats, atol=1e-4, rtol=0)
    torch.testing.assert_close(a.edge_feats, b.edge_feats, atol=1e-4, rtol=0)
    # the Calpha-only frames too
    ca_a = residue_graph_from_coordinates(s.ca, s.resname, s.chain_id)
    ca_b = residue_graph_from_coordinates(s.ca @ R.T + t, s.resname, s.chain_id)
    torch.testing.assert_close(ca_a.edge_feats, ca_b.edge_feats, atol=1e-4, rtol=0)
    assert ca_a.edge_feats[:, 16:23].abs().sum() > 0  # directions and orientations are there


@st.composite
def point_clouds(draw):
    n = draw(st.integers(0, 60))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, draw(st.sampled_from([5.0, 20.0, 200.0])), size=(n, 3))
    if n > 3 and draw(st.booleans()):
        pos[1] = pos[0]  # coincident points
    chain = np.sort(rng.integers(0, draw(st.integers(1, 3)), size=n)).astype(np.int64)
    return pos, chain


@given(point_clouds(), st.sampled_from([None, 1, 4]), st.sampled_from([None, 3.0, 8.0]),
       st.integers(0, 3), st.booleans())
def test_neighbour_search_matches_ckdtree(cloud, k, cutoff, min_sep, seq):
    from graphsci._native import _C
    pos, chain = cloud
    if cutoff is None and k is None:
        cutoff = 6.0
    src, dst = _C.neighbour_edges(pos, chain, float("inf") if cutoff is None else cutoff, k or 0, min_sep, seq)
    rsrc, rdst = reference.neighbour_edges(pos, chain, cutoff, k or 0, min_sep, seq)
    if k:  # ties at the k-th distance may pick different (equally near) neighbours
        d = np.linalg.norm(pos[src] - pos[dst], axis=1)
        rd = np.linalg.norm(pos[rsrc] - pos[rdst], axis=1)
        assert np.array_equal(dst, rdst) or len(dst) == len(rdst)
        np.testing.assert_allclose(np.sort(d), np.sort(rd))
    else:
        assert np.array_equal(src, rsrc) and np.array_equal(dst, rdst)
    assert (src != dst).all() and (np.diff(dst) >= 0).all()


def test_native_input_checks():
    from graphsci._native import _C
    pos, chain = np.zeros((3, 3)), np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="finite"):
        _C.neighbour_edges(np.full((3, 3), np.nan), chain, 5.0, 0, 0, True)
    with pytest.raises(ValueError, match="infinite cutoff"):
        _C.neighbour_edges(pos, chain, float("inf"), 0, 0, True)
    with pytest.raises(ValueError, match="out of range"):
        _C.residue_edge_features(pos, np.zeros((3, 3, 3)), chain, np.array([5]), np.array([0]), 16, 20.0, 16,
                                 np.zeros((1, FeatureLayout().edge_size), dtype=np.float32))
    with pytest.raises(ValueError, match="give a cutoff"):
        residue_graph(Structure.from_coordinates(pos), cutoff=None)
    with pytest.raises(ValueError, match="not finite"):
        Structure.from_coordinates(np.full((2, 3), np.nan))


def test_empty_and_tiny_graphs():
    one = residue_graph_from_coordinates(np.zeros((1, 3)))
    assert one.graph.num_edges == 0 and one.node_feats.shape[0] == 1
    two = residue_graph_from_coordinates(np.array([[0, 0, 0], [3.8, 0, 0.0]]), k=3, cutoff=None)
    assert two.graph.num_edges == 2


def test_bad_files_give_clear_errors(tmp_path):
    good = (PROTEINS / "structures" / "1BPI.pdb").read_text().splitlines(keepends=True)
    atoms = [i for i, ln in enumerate(good) if ln.startswith("ATOM")]
    truncated = tmp_path / "truncated.pdb"
    truncated.write_text("".join(good[:atoms[200]]) + good[atoms[200]][:40])
    empty = tmp_path / "empty.pdb"
    empty.write_text("")
    dna = tmp_path / "dna.pdb"
    dna.write_text("".join(ln for ln in (PROTEINS / "structures" / "1LCD.pdb").read_text().splitlines(keepends=True)
                           if ln.startswith(("ATOM", "HETATM")) and ln[21] in "BC") + "END\n")
    ligand = tmp_path / "ligand.pdb"
    ligand.write_text("".join(ln for ln in (PROTEINS / "structures" / "4HHB.pdb").read_text().splitlines(keepends=True)
                              if ln.startswith("HETATM")) + "END\n")
    garbage = tmp_path / "garbage.cif"
    garbage.write_text("this is not\nan mmCIF file\n")
    cuts = {}
    for cut in (1, 3, 4, 12, 53):    # inside the record name, the serial and the coordinates
        cuts[tmp_path / f"cut{cut}.pdb"] = "truncated"
        (tmp_path / f"cut{cut}.pdb").write_text("".join(good[:atoms[200]]) + good[atoms[200]][:cut])
    for kind, value in (("nan", "     nan"), ("inf", "     inf")):     # Biopython reads both as numbers
        bad = list(good)
        bad[atoms[5]] = bad[atoms[5]][:38] + value + bad[atoms[5]][46:]
        (tmp_path / f"{kind}.pdb").write_text("".join(bad))
        cuts[tmp_path / f"{kind}.pdb"] = "non-finite coordinate"
    cif = (PROTEINS / "structures" / "1A7G.cif").read_text().replace(" 27.255 -0.710 81.585 ", " 27.255 nan 81.585 ", 1)
    (tmp_path / "nan.cif").write_text(cif)
    cuts[tmp_path / "nan.cif"] = "atom N of residue 291 in chain E has a non-finite coordinate"
    cases = {**cuts, truncated: "truncated", empty: "empty", dna: "nucleic", ligand: "no amino-acid",
             garbage: "garbage.cif", tmp_path / "missing.pdb": "no such file",
             tmp_path / "notes.txt": "unknown structure format"}
    (tmp_path / "notes.txt").write_text("hello")
    for path, message in cases.items():
        with pytest.raises(StructureError, match=message) as info:
            load_structure(path)
        assert path.name in str(info.value)


def test_distance_maps_match_deepfri():
    for name in ("1S3P-A", "2J9H-A", "2PE5-B"):
        s = load_structure(PROTEINS / "deepfri_examples" / "pdb" / f"{name}.pdb")
        ref = np.load(PROTEINS / "deepfri_examples" / "contact_maps" / f"{name}.npz")
        assert s.sequence() == str(ref["seqres"])
        np.testing.assert_allclose(distance_map(s), ref["C_alpha"], atol=2e-3)
        # glycine has no CB: we place its node at CA, DeepFRI's maps use another convention
        side = s.resname != "GLY"
        np.testing.assert_allclose(distance_map(s, "CB")[side][:, side], ref["C_beta"][side][:, side], atol=2e-3)
        g = graph_from_distance_map(ref["C_alpha"], str(ref["seqres"]))
        from_coords = residue_graph(s)
        assert g.graph.num_edges == from_coords.graph.num_edges
        assert contact_map(s).sum() == int(((ref["C_alpha"] < 10) & ~np.eye(len(s), dtype=bool)).sum())
        # same distances, so the radial-basis block agrees with the coordinate-built graph
        torch.testing.assert_close(g.edge_feats[:, :16], from_coords.edge_feats[:, :16], atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="square"):
        graph_from_distance_map(np.zeros((3, 4)), "AAA")


def _protease_subset():
    import pandas as pd
    df = pd.read_csv(PROTEASE / "labels.csv")
    df = pd.concat([df[df.flap_state == "open"].head(8), df[df.flap_state == "closed"].head(16)])
    return [str(PROTEASE / f) for f in df["file"]], (df["flap_state"] == "open").to_numpy().astype(float)


def test_predictor_fit_predict_save_load(tmp_path):
    paths, y = _protease_subset()
    model = ProteinPropertyPredictor(epochs=3, hidden=32, depth=2, n_models=2, progress=False, batch_size=8)
    model.fit(paths, y)
    proba = model.predict_proba(paths)
    assert proba.shape == (len(paths), 2) and np.allclose(proba.sum(1), 1)
    broken = tmp_path / "broken.pdb"
    broken.write_text("ATOM      1  N   MET A   1      11.1")
    frame = model.predict_frame(paths[:3] + [str(broken)])
    assert list(frame.columns) == ["structure", "y", "y_std", "error"]
    assert frame["error"].iloc[:3].isna().all() and "truncated" in frame["error"].iloc[3]
    assert frame["y"].iloc[:3].notna().all() and np.isnan(frame["y"].iloc[3])
    model.save(tmp_path / "m", {"dataset": "protease subset"})
    loaded = ProteinPropertyPredictor.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(paths), proba, atol=1e-6)
    assert loaded.metadata_["dataset"] == "protease subset"
    assert len(model.history_) == 6 and model.history_["best"].sum() == 2
    pd.testing.assert_frame_equal(loaded.history_, model.history_)
    assert loaded.predict_proba([]).shape == (0, 2)
    with pytest.raises(ValueError, match="no training proteins"):
        ProteinPropertyPredictor().fit([], [])
    with pytest.raises(ValueError, match="y has 2 rows for 3 proteins"):
        ProteinPropertyPredictor(progress=False).fit(paths[:3], y[:2])
    (tmp_path / "m" / "model.safetensors").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="checksum"):
        ProteinPropertyPredictor.load(tmp_path / "m")


def test_residue_level_and_multiclass_tasks():
    structures = [load_structure(PROTEINS / "structures" / n) for n in ("1BPI.pdb", "6MRR.pdb", "1LDS.pdb")]
    # residue-level regression target: the number of contacts of each residue (learnable from the graph)
    targets = [contact_map(s).sum(1).astype(float) for s in structures]
    model = ProteinPropertyPredictor(task="regression", level="residue", epochs=30, hidden=32, depth=2,
                                     progress=False, val_fraction=0.34, lr=3e-3)
    model.fit(structures, targets)
    preds = model.predict(structures)
    assert [len(p) for p in preds] == [len(s) for s in structures]
    assert model.evaluate(structures, targets)["r2"] > 0.3
    frame = model.predict_frame(structures[:1])
    assert len(frame) == len(structures[0]) and {"chain", "resseq", "resname"} <= set(frame.columns)
    labels = np.array([0, 1, 2])
    mc = ProteinPropertyPredictor(task="multiclass", epochs=2, hidden=16, depth=1, progress=False)
    mc.fit(structures, labels)
    assert mc.predict_proba(structures).shape == (3, 3) and set(mc.predict(structures)) <= {0, 1, 2}


def test_scoring_checks_labels_and_masks_missing_ones():
    import warnings

    structures = [load_structure(PROTEINS / "structures" / n) for n in ("1BPI.pdb", "6MRR.pdb", "1LDS.pdb")]
    small = dict(epochs=2, hidden=16, depth=1, progress=False)
    mc = ProteinPropertyPredictor(task="multiclass", **small).fit(structures, np.array([0, 1, 2]))
    predicted = mc.predict(structures)
    # a missing label is left out (it counted as a wrong prediction)
    assert mc.evaluate(structures, [0, 1, np.nan])["accuracy"] == np.mean(predicted[:2] == [0, 1])
    for labels, message in (([0, 1, 7], r"label\(s\) \[7.0\] are not among the classes"),
                            ([0, 1], "y has 2 rows for 3 proteins"), (["a", "b", "c"], "could not convert")):
        with pytest.raises(ValueError, match=message):
            mc.evaluate(structures, labels)
    reg = ProteinPropertyPredictor(task="regression", **small).fit(structures, [0.1, 1.0, 2.0])
    with pytest.raises(ValueError, match="finite numbers or NaN"):
        reg.evaluate(structures, [1.0, np.inf, 2.0])
    with pytest.raises(ValueError, match="finite numbers or NaN"):
        ProteinPropertyPredictor(task="regression", **small).fit(structures, [0.1, np.inf, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = reg.evaluate(structures, [np.nan] * 3)
    assert np.isnan(metrics["r2"]) and np.isnan(metrics["rmse"])
    assert [str(w.message) for w in caught] == ["no labelled rows to score: the metrics are undefined (NaN)"]
    cls = ProteinPropertyPredictor(task="classification", **small).fit(structures, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        cls.evaluate(structures, [0.0, 1.0, 2.0])      # scored as a positive before


def test_geometry_free_variant_ignores_geometry():
    s = load_structure(PROTEINS / "structures" / "1BPI.pdb")
    m = ProteinPropertyPredictor(geometry=False, epochs=1, hidden=16, depth=1, progress=False)
    m.fit([s, s], [0.0, 1.0])
    assert m.edge_dim_ == 0 and m.models_[0].edge_embed is None


def test_command_line_on_a_folder_with_a_broken_file(tmp_path):
    paths, y = _protease_subset()
    model = ProteinPropertyPredictor(epochs=2, hidden=16, depth=1, n_models=2, progress=False, batch_size=8)
    model.fit(paths, y, target_names=["flap_open"])
    model.save(tmp_path / "model", {"units": {"flap_open": "probability"}})
    folder = tmp_path / "structures"
    folder.mkdir()
    for p in paths[:3]:
        shutil.copy(p, folder)
    shutil.copy(PROTEINS / "structures" / "4HHB.pdb", folder)
    (folder / "broken.pdb").write_text("ATOM      1  N   MET A   1      11.1")
    (folder / "README.txt").write_text("not a structure")
    exe = str(Path(sys.executable).with_name("graphsci"))
    proc = subprocess.run([exe, "predict", str(tmp_path / "model"), str(folder)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    import io

    import pandas as pd
    out = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False)
    assert list(out.columns) == ["structure", "flap_open (probability)", "flap_open_std", "error"]
    assert len(out) == 5 and out["structure"].str.endswith("broken.pdb").sum() == 1
    bad = out[out["structure"].str.endswith("broken.pdb")]
    assert "truncated" in bad["error"].iloc[0] and bad["flap_open (probability)"].iloc[0] == ""
    good = out[~out["structure"].str.endswith("broken.pdb")]
    assert (good["error"] == "").all() and good["flap_open (probability)"].astype(float).between(0, 1).all()
    assert "5 structures read, 4 predicted, 1 invalid" in proc.stderr
    per_chain = subprocess.run([exe, "predict", str(tmp_path / "model"), str(folder / "4HHB.pdb"), "--per-chain"],
                               capture_output=True, text=True, timeout=300)
    chains = pd.read_csv(io.StringIO(per_chain.stdout))
    assert per_chain.returncode == 0 and chains["chain"].tolist() == ["A", "B", "C", "D"]
    strict = subprocess.run([exe, "predict", str(tmp_path / "model"), str(folder), "--strict"],
                            capture_output=True, text=True, timeout=300)
    assert strict.returncode == 1 and "broken.pdb" in strict.stderr
    missing = subprocess.run([exe, "predict", str(tmp_path / "model"), str(paths[0]), str(tmp_path / "nothing")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no such file" in missing.stderr and missing.stdout == ""
    several = subprocess.run([exe, "predict", str(tmp_path / "model"), str(paths[3]), str(folder), str(paths[4])],
                             capture_output=True, text=True, timeout=300)
    rows = pd.read_csv(io.StringIO(several.stdout), keep_default_na=False)
    assert several.returncode == 0 and len(rows) == 7, several.stderr
    assert rows["structure"].iloc[0] == str(paths[3]) and rows["structure"].iloc[-1] == str(paths[4])
    assert rows["structure"].iloc[1:6].tolist() == out["structure"].tolist()


def test_balanced_class_weight():
    from torch.nn import functional as F

    from graphsci.train.losses import masked_bce
    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5], [-0.7, 1.2]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [0.0, 0.0]])
    w = torch.tensor([2.0, 1.0])
    ok = ~torch.isnan(y)
    expected = F.binary_cross_entropy_with_logits(logits[ok], y[ok], pos_weight=w.expand_as(logits)[ok])
    torch.testing.assert_close(masked_bce(logits, y, w), expected)
    torch.testing.assert_close(masked_bce(logits, y, torch.ones(2)), masked_bce(logits, y))
    samples = [type("S", (), {"y": torch.tensor([v])})() for v in (1.0, 0.0, 0.0, 0.0)]
    assert ProteinPropertyPredictor._positive_weights(samples).tolist() == [3.0]
    with pytest.raises(ValueError, match="class_weight"):
        ProteinPropertyPredictor(class_weight="auto").fit([load_structure(STRUCTURES[0])], [1.0])


@pytest.mark.parametrize("readout", ["mean", "sum", "max", "attention"])
def test_readouts_pool_each_protein_of_a_batch_separately(readout):
    import graphsci
    from graphsci.protein.models import ProteinGNN
    graphs = [residue_graph(load_structure(PROTEINS / "structures" / n)) for n in ("1BPI.pdb", "6MRR.pdb")]
    torch.manual_seed(0)
    net = ProteinGNN(graphs[0].node_feats.shape[1], graphs[0].edge_feats.shape[1], 1, hidden=16, depth=2,
                     readout=readout).eval()
    one = [net(p.graph, p.node_feats, p.edge_feats) for p in graphs]
    both = net(graphsci.batch([p.graph for p in graphs]), torch.cat([p.node_feats for p in graphs]),
               torch.cat([p.edge_feats for p in graphs]))
    torch.testing.assert_close(both, torch.cat(one), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="readout"):
        ProteinGNN(4, 4, 1, readout="median")
