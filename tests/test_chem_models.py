"""Molecule networks: shapes, gradients, batch independence, and D-MPNN against a per-edge loop."""
import pytest
import torch

from graphsci.chem import ARCHITECTURES, AtomFeaturizer, BondFeaturizer, MoleculeGNN, smiles_to_graph
from graphsci.data import GraphSample, collate

SMILES = ["CCO", "c1ccccc1O", "[Na+].[Cl-]", "C", "CC(=O)Nc1ccc(O)cc1"]


def _batch(smiles):
    return collate([GraphSample(*smiles_to_graph(s), torch.zeros(2)) for s in smiles])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_shapes_gradients_and_batch_independence(arch):
    torch.manual_seed(0)
    model = MoleculeGNN(arch, AtomFeaturizer().size, BondFeaturizer().size, n_tasks=2, hidden=32,
                        depth=3, dropout=0.1, ffn_hidden=16).eval()
    b = _batch(SMILES)
    out = model(b.graph, b.x, b.edge_feats)
    assert out.shape == (len(SMILES), 2) and torch.isfinite(out).all()
    # each molecule's prediction does not depend on what else is in the batch
    for i, s in enumerate(SMILES):
        one = _batch([s])
        torch.testing.assert_close(model(one.graph, one.x, one.edge_feats)[0], out[i], atol=1e-5, rtol=1e-4)
    model.train()
    model(b.graph, b.x, b.edge_feats).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert model.embed(b.graph, b.x, b.edge_feats).shape == (len(SMILES), 32)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_dmpnn_matches_per_edge_loop(depth):
    # Odd and even numbers of message steps: the fast path alternates between edge order and
    # reverse-pair order, so both end states are checked, values and weight gradients.
    torch.manual_seed(depth)
    b = _batch(["CC(=O)O", "[Na+]", "C1CC1N"])
    model = MoleculeGNN("dmpnn", b.x.shape[1], b.edge_feats.shape[1], 1, hidden=8, depth=depth).double()
    enc = model.encoder
    g, x, e = b.graph, b.x.double(), b.edge_feats.double()
    src, dst = g.src.tolist(), g.dst.tolist()
    h0 = enc.w_i(torch.cat([x[g.src], e], 1))
    h = torch.relu(h0)
    for _ in range(depth - 1):
        new = []
        for k in range(g.num_edges):
            # messages into src(k) from every edge except k's reverse
            m = sum((h[j] for j in range(g.num_edges) if dst[j] == src[k] and j != k ^ 1),
                    torch.zeros(8, dtype=torch.float64))
            new.append(torch.relu(h0[k] + enc.w_h(m)))
        h = torch.stack(new)
    atom = torch.stack([sum((h[j] for j in range(g.num_edges) if dst[j] == v), torch.zeros(8, dtype=torch.float64))
                        for v in range(g.num_nodes)])
    expect = torch.relu(enc.w_o(torch.cat([x, atom], 1)))
    got = enc(g, x, e)
    torch.testing.assert_close(got, expect)
    weights = [enc.w_i.weight, enc.w_h.weight, enc.w_o.weight]
    upstream = torch.randn_like(got)
    for a, b_ in zip(torch.autograd.grad((got * upstream).sum(), weights, allow_unused=True),
                     torch.autograd.grad((expect * upstream).sum(), weights, allow_unused=True)):
        if a is None or b_ is None:
            assert a is None or not a.abs().sum(), "a weight the loop does not use got a gradient"
            continue
        torch.testing.assert_close(a, b_)


def test_model_argument_errors():
    with pytest.raises(ValueError, match="unknown architecture"):
        MoleculeGNN("transformer", 5, 5, 1)
    with pytest.raises(ValueError, match="readout 'median'; expected one of norm, sum, mean, max"):
        MoleculeGNN("gcn", 5, 5, 1, readout="median")
    mg = smiles_to_graph("CC", self_loops=True)
    model = MoleculeGNN("dmpnn", mg.node_feats.shape[1], mg.edge_feats.shape[1], 1, hidden=8)
    with pytest.raises(ValueError, match="pair"):
        model(mg.graph, mg.node_feats, mg.edge_feats[:, :])
