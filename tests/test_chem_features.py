"""Atom/bond featurizers and molecule graphs on known molecules."""
import gzip

import numpy as np
import pytest
import torch

from graphsci.chem import (ATOM_FEATURES, AtomFeaturizer, BondFeaturizer, InvalidMoleculeError,
                           featurize, mol_to_graph, parse_smiles, read_sdf, smiles_to_graph)


@pytest.mark.parametrize("preset,atom_size,bond_size", [
    ("canonical", 85, 14), ("compact", 31, 7), ("chemprop", 72, 14)])
def test_preset_sizes(preset, atom_size, bond_size):
    af, bf = AtomFeaturizer(preset), BondFeaturizer(preset)
    assert (af.size, bf.size) == (atom_size, bond_size)
    assert af.size == sum(s.stop - s.start for s in af.slices.values())
    mg = smiles_to_graph("CC(=O)O", af, bf)
    assert mg.node_feats.shape == (4, atom_size) and mg.edge_feats.shape == (6, bond_size)


def test_custom_feature_list_and_errors():
    af = AtomFeaturizer(["aromatic", "formal_charge"])
    assert af.size == 1 + 6
    with pytest.raises(ValueError, match="unknown atom feature"):
        AtomFeaturizer(["aromatic", "colour"])
    with pytest.raises(ValueError, match="unknown atom preset"):
        AtomFeaturizer("fancy")
    with pytest.raises(ValueError, match="at least one"):
        BondFeaturizer([])


def _value(af, row, name):
    """The decoded value of one feature of one encoded row."""
    s = af.slices[name]
    feat = ATOM_FEATURES[name]
    if feat.vocab is None:
        return float(row[s][0])
    hot = int(np.argmax(row[s]))
    assert row[s].sum() == 1
    return feat.vocab[hot] if hot < len(feat.vocab) else "other"


def test_benzene_aromatic_carbons():
    af = AtomFeaturizer()
    mg = smiles_to_graph("c1ccccc1", af)
    x = mg.node_feats.numpy()
    assert mg.graph.num_nodes == 6 and mg.graph.num_edges == 12
    for row in x:
        assert _value(af, row, "element") == 6
        assert _value(af, row, "aromatic") == 1.0 and _value(af, row, "in_ring") == 1.0
        assert _value(af, row, "total_h") == 1 and _value(af, row, "degree") == 2
    bf = BondFeaturizer()
    e = mg.edge_feats.numpy()
    assert (e[:, bf.slices["bond_type"]].argmax(1) == 3).all()  # aromatic
    assert (e[:, bf.slices["conjugated"]] == 1).all()


def test_ammonium_charge_and_other_bucket():
    af = AtomFeaturizer()
    row = smiles_to_graph("[NH4+]", af).node_feats.numpy()[0]
    assert _value(af, row, "element") == 7
    assert _value(af, row, "formal_charge") == 1
    assert _value(af, row, "total_h") == 4
    uranium = smiles_to_graph("[U]", af).node_feats.numpy()[0]
    assert _value(af, uranium, "element") == "other"


def test_single_atoms_ions_and_salts_are_valid_graphs():
    for smi, n_atoms, n_edges in [("[Na+]", 1, 0), ("C", 1, 0), ("[Na+].[Cl-]", 2, 0),
                                  ("CC(=O)[O-].[Na+]", 5, 6)]:
        mg = smiles_to_graph(smi)
        assert (mg.graph.num_nodes, mg.graph.num_edges) == (n_atoms, n_edges)
        assert mg.edge_feats.shape[0] == n_edges


def test_edges_pair_with_their_reverse():
    mg = smiles_to_graph("CCO")
    src, dst = mg.graph.src, mg.graph.dst
    rev = torch.arange(mg.graph.num_edges) ^ 1
    assert torch.equal(src[rev], dst) and torch.equal(dst[rev], src)
    assert torch.equal(mg.edge_feats[rev], mg.edge_feats)


def test_explicit_hydrogens_and_self_loops():
    plain = smiles_to_graph("C")
    with_h = smiles_to_graph("C", explicit_h=True)
    assert with_h.graph.num_nodes == 5 and with_h.graph.num_edges == 8
    looped = smiles_to_graph("CC", self_loops=True)
    assert looped.graph.num_edges == 2 + 2
    assert looped.edge_feats.shape[1] == BondFeaturizer().size + 1
    assert looped.edge_feats[-2:, -1].tolist() == [1.0, 1.0] and looped.edge_feats[:2, -1].tolist() == [0.0, 0.0]
    assert torch.equal(looped.graph.src[-2:], torch.tensor([0, 1]))
    assert plain.graph.num_edges == 0


def test_invalid_smiles_reason():
    with pytest.raises(InvalidMoleculeError, match="valence"):
        parse_smiles("N(C)(C)(C)(C)C")
    with pytest.raises(InvalidMoleculeError, match="unclosed ring"):
        smiles_to_graph("C1CC")
    with pytest.raises(InvalidMoleculeError, match="empty"):
        parse_smiles("")
    with pytest.raises(ValueError, match="RDKit Mol"):
        mol_to_graph("CCO")


def test_featurize_keeps_order_and_reports_bad_rows(capfd):
    smiles = ["CCO", "not a molecule", "c1ccccc1", "", "C1CC", "[Na+].[Cl-]"]
    r = featurize(smiles, progress=False, chunk_size=2)
    assert [g is None for g in r.graphs] == [False, True, False, True, True, False]
    assert r.errors[0] is None and "not a molecule" in r.errors[1] and "unclosed ring" in r.errors[4]
    assert r.graphs[2].graph.num_nodes == 6
    assert "SMILES Parse Error" not in capfd.readouterr().err  # no RDKit noise on stderr
    ref = smiles_to_graph("c1ccccc1")
    assert torch.equal(r.graphs[2].node_feats, ref.node_feats)


def test_featurize_in_worker_processes_matches_serial():
    import pandas as pd
    from conftest import SHARED_DATA

    smiles = pd.read_csv(f"{SHARED_DATA}/molecules/esol_delaney.csv")["smiles"].tolist()[:120]
    serial = featurize(smiles, progress=False)
    parallel = featurize(smiles, n_jobs=2, chunk_size=40, progress=False)
    for a, b in zip(serial.graphs, parallel.graphs):
        assert torch.equal(a.node_feats, b.node_feats) and torch.equal(a.graph.src, b.graph.src)


def test_prefetched_chunks_are_picked_up_and_workers_stay_torch_free():
    import subprocess
    import sys

    from graphsci.chem import encoding
    from graphsci.chem.molgraph import featurize_batches

    smiles = ["CCO", "c1ccccc1O", "bad", "[Na+].[Cl-]", "CC(=O)N"] * 20
    af, bf = AtomFeaturizer(), BondFeaturizer()
    encoding.prefetch(smiles, af.names, bf.names, n_jobs=2, chunk_size=30)
    assert sum(map(len, encoding._PREFETCHED.values())) == 4     # three identical chunks, and the tail
    fetched = list(featurize_batches(smiles, n_jobs=2, chunk_size=30))
    assert not encoding._PREFETCHED
    serial = list(featurize_batches(smiles, n_jobs=1, chunk_size=30))
    for a, b in zip(fetched, serial):
        assert torch.equal(a.node_feats, b.node_feats) and torch.equal(a.graph.src, b.graph.src)
        assert a.errors == b.errors
    # workers never import torch; the caller starts them before it has imported RDKit itself
    probe = subprocess.run([sys.executable, "-c", "import sys, graphsci.chem.encoding; "
                            "print('torch' in sys.modules, 'rdkit' in sys.modules)"], capture_output=True, text=True)
    assert probe.stdout.strip() == "False False", probe.stderr


def test_read_sdf_plain_and_gzipped(tmp_path):
    from rdkit import Chem

    from graphsci.chem import sdf_records

    block = "".join(Chem.MolToMolBlock(Chem.MolFromSmiles(s)) + "$$$$\n" for s in ["CCO", "c1ccccc1"])
    block += "garbage\n  no atoms here\n\nM  END\n$$$$\n"
    pentavalent = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)
    pentavalent.SetProp("_Name", "pentavalent")
    block += Chem.MolToMolBlock(pentavalent) + "> <id>\n007\n\n> <note>\ntwo\nlines\n\n$$$$\n"
    block += "$$$$\n"  # an empty record
    block += Chem.MolToMolBlock(Chem.MolFromSmiles("CC(=O)O"))  # the last record lacks its $$$$
    (tmp_path / "m.sdf").write_text(block)
    with gzip.open(tmp_path / "m.sdf.gz", "wt") as fh:
        fh.write(block)
    for name in ("m.sdf", "m.sdf.gz"):
        mols, errors = read_sdf(tmp_path / name)
        assert [m is None for m in mols] == [False, False, True, True, True, False]
        assert errors[0] is None and errors[5] is None and errors[4].startswith("SDF record 5: ")
        # Each rejected record is named by number and title, with RDKit's reason.
        assert errors[2].startswith("SDF record 3 (garbage): ") and "line 4" in errors[2]
        assert errors[3] == "SDF record 4 (pentavalent): Explicit valence for atom # 0 C, 5, is greater than permitted"
        assert mol_to_graph(mols[1]).graph.num_nodes == 6 and mols[5].GetNumAtoms() == 4
    # Chunks number records through the file; data items are kept as spelled, rejected records too.
    chunks = list(sdf_records(tmp_path / "m.sdf", chunk_size=2))
    assert [[r.number for r in c] for c in chunks] == [[1, 2], [3, 4], [5, 6]]
    assert chunks[1][1].data == {"id": "007", "note": "two\nlines"} and chunks[1][1].title == "pentavalent"
    with pytest.raises(FileNotFoundError):
        read_sdf(tmp_path / "missing.sdf")
