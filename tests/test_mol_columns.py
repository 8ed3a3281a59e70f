"""Atom/bond columns read natively from RDKit pickles against RDKit's own getters."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SHARED_DATA
from rdkit import Chem, rdBase
from rdkit.Chem import AllChem

from graphsci import _native
from graphsci.chem import featurize
from graphsci.chem.columns import ATOM_COLUMNS, BOND_COLUMNS, mol_columns

# Charges, isotopes, radicals, atom maps (one above 127), dummy atoms, stereo bonds and centres,
# salts, metals, bridged, spiro and macro rings, explicit hydrogens, more than 255 atoms.
ODD = ["[NH4+]", "[H+]", "[2H]C", "[13CH4]", "[CH2]", "[C]", "c1cc[nH]c1", "[Na+].[Cl-]", "[Fe+2]", "*C",
       "[*:1]CC", "[CH3:1]C", "[CH3:200]C", "F/C=C/F", "F/C=C\\F", "C[C@H](N)C(=O)O", "[H][H]", "C1CC2CCC1C2",
       "C1CC11CC1", "C1CCCCCCCCCCCCCCCCCCCCC1", "[U]", "[He]", "[O-][N+](=O)c1ccccc1", "[se]1cccc1",
       "[Cu+2].[O-]S(=O)(=O)[O-]", "O=[Xe](=O)=O", "[N-]=[N+]=[N-]", "C=C=C", "C" * 300,
       "C" + "c1ccccc1" * 60, "N[C@@H](CS)C(=O)N[C@@H](Cc1ccccc1)C(=O)O"]


def _api(mols):
    with _native.disabled():
        return mol_columns(mols)


def _molecules():
    esol = pd.read_csv(f"{SHARED_DATA}/molecules/esol_delaney.csv")["smiles"].tolist()
    bbbp = pd.read_csv(f"{SHARED_DATA}/molecules/bbbp.csv")["smiles"].tolist()[:600]
    with rdBase.BlockLogs():
        mols = [m for m in map(Chem.MolFromSmiles, esol + bbbp) if m is not None]
    odd = [Chem.MolFromSmiles(s) for s in ODD]
    # with 3-D coordinates, and as read back from a mol block (an SDF record)
    embedded = Chem.AddHs(Chem.MolFromSmiles("C[C@H](N)C(=O)Oc1ccccc1"))
    AllChem.EmbedMolecule(embedded, randomSeed=0)
    from_block = Chem.MolFromMolBlock(Chem.MolToMolBlock(embedded))
    return mols + odd + [Chem.AddHs(m) for m in mols[:200] + odd] + [embedded, from_block]


def test_native_columns_equal_rdkit_getters():
    mols = _molecules()
    native, api = mol_columns(mols), _api(mols)
    assert native.native.all(), "every molecule here should be read from its pickle"
    assert not api.native.any()
    for name in ATOM_COLUMNS:
        np.testing.assert_array_equal(native.atom(name), api.atom(name), err_msg=name)
    for name in BOND_COLUMNS:
        np.testing.assert_array_equal(native.bond(name), api.bond(name), err_msg=name)
    mass = np.array([a.GetMass() for m in mols for a in m.GetAtoms()])
    np.testing.assert_array_equal(native.atom("mass"), mass)
    assert (native.n_atoms == [m.GetNumAtoms() for m in mols]).all()


def test_columns_match_known_values():
    cols = mol_columns([Chem.MolFromSmiles("[NH4+]"), Chem.MolFromSmiles("c1ccccc1"), Chem.MolFromSmiles("[13CH3]C")])
    assert cols.atom("formal_charge")[0] == 1 and cols.atom("total_h")[0] == 4
    assert (cols.atom("aromatic")[1:7] == 1).all() and (cols.atom("in_ring")[1:7] == 1).all()
    assert (cols.bond("bond_type")[:6] == int(Chem.BondType.AROMATIC)).all() and (cols.bond("in_ring")[:6] == 1).all()
    assert cols.atom("isotope")[7] == 13 and cols.atom("mass")[7] == pytest.approx(13.00335, abs=1e-4)


def test_molecules_the_reader_does_not_cover_go_through_rdkit(tmp_path):
    pdb = Chem.MolFromPDBFile(f"{SHARED_DATA}/proteins/structures/" + _first_pdb(), sanitize=True)
    mols = [Chem.MolFromSmiles("CCO"), pdb, Chem.MolFromSmiles("c1ccccc1")]
    cols, api = mol_columns(mols), _api(mols)
    assert cols.native.tolist() == [True, False, True]   # residue information is not modelled
    np.testing.assert_array_equal(cols.atoms, api.atoms)
    np.testing.assert_array_equal(cols.bonds, api.bonds)


def test_unsanitized_molecules_and_non_molecules_are_refused_clearly():
    with pytest.raises(ValueError, match="molecule 1: .*sanitize it first"):
        mol_columns([Chem.MolFromSmiles("CCO"), Chem.MolFromSmiles("CCO", sanitize=False)])
    with pytest.raises(ValueError, match="item 1 is not an RDKit molecule"):
        mol_columns([Chem.MolFromSmiles("CCO"), None])


def _first_pdb():
    import os
    names = sorted(n for n in os.listdir(f"{SHARED_DATA}/proteins/structures") if n.endswith(".pdb"))
    return names[0]


def _call(blobs, n_atoms, n_bonds):
    from graphsci import _C
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    n_atoms, n_bonds = np.asarray(n_atoms, dtype=np.int64), np.asarray(n_bonds, dtype=np.int64)
    atoms = np.zeros((int(n_atoms.sum()), len(ATOM_COLUMNS)), dtype=np.int32)
    bonds = np.zeros((int(n_bonds.sum()), len(BOND_COLUMNS)), dtype=np.int32)
    status = np.zeros(len(blobs), dtype=np.int32)
    _C.mol_pickle_columns(np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets, n_atoms, n_bonds,
                          atoms, bonds, status)
    return atoms, bonds, status


def test_truncated_and_corrupted_pickles_give_a_status_never_a_crash():
    mols = [Chem.MolFromSmiles(s) for s in ["CC(=O)Oc1ccccc1C(=O)O", "[CH3:200][C@H](F)/C=C/Cl", "C" * 300]]
    rng = np.random.default_rng(0)
    for m in mols:
        blob, na, nb = m.ToBinary(), m.GetNumAtoms(), m.GetNumBonds()
        assert _call([blob], [na], [nb])[2].tolist() == [0]
        # every prefix is refused until the ring section is complete (the empty conformer list
        # and end tag after it, 10 bytes, are not read)
        cuts = [blob[:k] for k in range(len(blob))]
        status = _call(cuts, [na] * len(cuts), [nb] * len(cuts))[2]
        assert (status[:len(blob) - 10] != 0).all() and (status[len(blob) - 10:] == 0).all()
        flipped = []
        for _ in range(400):
            b = bytearray(blob)
            for pos in rng.integers(0, len(b), size=rng.integers(1, 4)):
                b[pos] = int(rng.integers(0, 256))
            flipped.append(bytes(b))
        atoms, bonds, status = _call(flipped, [na] * len(flipped), [nb] * len(flipped))
        assert set(status.tolist()) <= set(range(8))
        ends = bonds[:, :2].reshape(len(flipped), nb, 2)
        ok = status == 0
        assert ((ends[ok] >= 0) & (ends[ok] < na)).all()   # accepted rows never point outside
    # the header's counts must match the molecule's; another format version is declined
    m = mols[0]
    blob = bytearray(m.ToBinary())
    assert _call([bytes(blob)], [m.GetNumAtoms() + 1], [m.GetNumBonds()])[2].tolist() == [3]
    blob[8] = 99
    assert _call([bytes(blob)], [m.GetNumAtoms()], [m.GetNumBonds()])[2].tolist() == [2]
    assert _call([b"not a pickle at all"], [1], [0])[2].tolist() == [1]


def test_bad_arguments_are_refused():
    blob = Chem.MolFromSmiles("CCO").ToBinary()
    data = np.frombuffer(blob, dtype=np.uint8)
    from graphsci import _C
    good = dict(atoms=np.zeros((3, 12), np.int32), bonds=np.zeros((2, 6), np.int32), status=np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="offsets"):
        _C.mol_pickle_columns(data, np.array([0, len(blob) + 5]), np.array([3]), np.array([2]), **good)
    with pytest.raises(ValueError, match="offsets"):
        _C.mol_pickle_columns(data, np.array([5, 2]), np.array([3]), np.array([2]), **good)
    with pytest.raises(ValueError, match="atoms"):
        _C.mol_pickle_columns(data, np.array([0, len(blob)]), np.array([4]), np.array([2]), **good)
    with pytest.raises(ValueError, match="non-negative"):
        _C.mol_pickle_columns(data, np.array([0, len(blob)]), np.array([-1]), np.array([2]), **good)
    with pytest.raises(ValueError, match="int32"):
        _C.mol_pickle_columns(data, np.array([0, len(blob)]), np.array([3]), np.array([2]),
                              np.zeros((3, 12), np.int64), good["bonds"], good["status"])


def test_featurize_is_the_same_with_the_native_reader_off():
    smiles = pd.read_csv(f"{SHARED_DATA}/molecules/esol_delaney.csv")["smiles"].tolist()[:200] + ODD
    fast = featurize(smiles, progress=False)
    with _native.disabled():
        slow = featurize(smiles, progress=False)
    for a, b in zip(fast.graphs, slow.graphs):
        assert torch.equal(a.node_feats, b.node_feats) and torch.equal(a.edge_feats, b.edge_feats)
        assert torch.equal(a.graph.src, b.graph.src) and torch.equal(a.graph.dst, b.graph.dst)


def test_workers_read_pickles_without_torch():
    code = ("import sys; from graphsci.chem.encoding import _encode_chunk; "
            "enc, errors = _encode_chunk((['CCO', 'c1ccccc1'], 'canonical', 'canonical', False)); "
            "from graphsci.chem.columns import _reader; "
            "print('torch' in sys.modules, _reader() is not None, enc.node_x.shape[0])")
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.stdout.split() == ["False", "True", "9"], probe.stderr
