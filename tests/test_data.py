"""Real data: the Planetoid loader and the core demo (SGC) on Cora and CiteSeer."""
import pickle

import pytest
import torch

from graphsci.data import load_planetoid, row_normalise
from graphsci.data.planetoid import _DataUnpickler
from conftest import SHARED_DATA


@pytest.mark.parametrize("name,nodes,edges,features,classes", [
    ("cora", 2708, 10556, 1433, 7), ("citeseer", 3327, 9104, 3703, 6)])
def test_planetoid_standard_split(name, nodes, edges, features, classes):
    d = load_planetoid(name, SHARED_DATA)
    assert (d.graph.num_nodes, d.graph.num_edges) == (nodes, edges)
    assert d.x.shape == (nodes, features) and d.num_classes == classes
    assert int(d.train_mask.sum()) == 20 * classes
    assert int(d.val_mask.sum()) == 500 and int(d.test_mask.sum()) == 1000
    assert not bool((d.train_mask & d.test_mask).any())
    assert bool((d.y[d.train_mask | d.val_mask | d.test_mask] >= 0).all())
    # undirected, no self-loops, no duplicates
    pairs = set(zip(d.graph.src.tolist(), d.graph.dst.tolist()))
    assert len(pairs) == edges and all((v, u) in pairs for u, v in pairs)
    assert not bool((d.graph.src == d.graph.dst).any())


def test_row_normalise_scales_rows_to_sum_one_and_keeps_empty_rows():
    d = load_planetoid("citeseer", SHARED_DATA)  # has featureless rows
    x = row_normalise(d.x)
    sums = x.sum(1)
    empty = d.x.sum(1) == 0
    assert bool(empty.any()) and bool((sums[empty] == 0).all())
    assert torch.allclose(sums[~empty], torch.ones(int((~empty).sum())))
    assert torch.equal(x > 0, d.x > 0)  # the same words, rescaled
    weights = torch.tensor([[0.2, 0.3, 0.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]])  # sums below 1 too
    assert torch.allclose(row_normalise(weights), torch.tensor([[0.4, 0.6, 0.0], [0.0, 0.0, 0.0], [0.75, 0.25, 0.0]]))
    for bad in (torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, float("nan")]]), torch.ones(3),
                weights.to_sparse()):
        with pytest.raises(ValueError, match="row_normalise"):
            row_normalise(bad)


def test_planetoid_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown Planetoid"):
        load_planetoid("pubmed", SHARED_DATA)
    with pytest.raises(FileNotFoundError):
        load_planetoid("cora", tmp_path)


def test_data_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    import io
    blob = pickle.dumps(Evil())
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _DataUnpickler(io.BytesIO(blob)).load()


def test_demo_reproduces_sgc_on_cora():
    """SGC (K=2) reaches the published ~81% on Cora with the native SpMM."""
    from graphsci.demo import run

    torch.set_num_threads(2)
    r = run("cora", 2, SHARED_DATA)
    assert r["test_acc"] >= 0.79
