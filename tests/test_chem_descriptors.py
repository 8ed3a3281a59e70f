import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

from graphsci.chem.descriptors import DescriptorScaler, descriptor_names, mol_descriptors


def test_descriptors_equal_rdkits_own_and_invalid_smiles_give_nan_rows():
    smiles = ["c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "[NH4+].[Cl-]", "C", "not a smiles"]
    names = descriptor_names("rdkit2d")
    got = mol_descriptors(smiles)
    assert got.shape == (5, len(names))
    assert np.isnan(got[4]).all()
    functions = dict(Descriptors.descList)
    for i, s in enumerate(smiles[:4]):
        mol = Chem.MolFromSmiles(s)     # a fresh molecule: nothing cached on it
        want = np.array([functions[n](mol) for n in names], dtype=np.float64)
        want[~np.isfinite(want)] = np.nan
        np.testing.assert_allclose(got[i], want, rtol=1e-12, equal_nan=True)
    estate = [names.index(n) for n in ("MaxEStateIndex", "MinAbsEStateIndex", "VSA_EState1")]
    assert np.isfinite(got[1, estate]).all()
    # the chunked worker path gives the same values
    np.testing.assert_array_equal(mol_descriptors(smiles, n_jobs=2, chunk_size=2), got)


def test_scaler_imputes_missing_and_clips_extremes():
    train = np.array([[0.0, 1.0, 5.0], [2.0, np.nan, 5.0], [4.0, 3.0, 5.0]])
    scaler = DescriptorScaler().fit(train)
    z = scaler.transform(np.array([[2.0, np.nan, 5.0], [1e9, -np.inf, 7.0]]))
    assert z.dtype == np.float32 and np.isfinite(z).all()
    assert z[0].tolist() == [0.0, 0.0, 0.0]           # mean row; NaN -> mean; constant column -> 0
    assert z[1, 0] == 10.0 and z[1, 1] == -10.0 and z[1, 2] == 2.0
