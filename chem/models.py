"""Molecular property networks: an encoder (GCN, GAT, GIN, AttentiveFP or D-MPNN) turns a batch
of molecule graphs into one vector per molecule; an MLP head maps it to the task outputs."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from graphsci import nn as gnn
from graphsci import ops
from graphsci.graph import Graph

ARCHITECTURES = ("gcn", "gat", "gin", "attentivefp", "dmpnn")
# Molecule readouts by name; "norm" (sum / 100) is chemprop's default.
READOUTS = {"norm": gnn.NormReadout, "sum": gnn.SumReadout, "mean": gnn.MeanReadout, "max": gnn.MaxReadout}


class DMPNNEncoder(nn.Module):
    """Directed message passing (Yang et al., J. Chem. Inf. Model. 2019, as in chemprop): hidden
    states live on directed bonds, and a bond's message excludes its own reverse bond. Needs the
    edge pairing of :func:`graphsci.chem.mol_to_graph` (edge ``e``'s reverse is ``e ^ 1``)."""

    def __init__(self, atom_dim, bond_dim, hidden, depth, dropout):
        super().__init__()
        self.w_i = nn.Linear(atom_dim + bond_dim, hidden, bias=False)
        self.w_h = nn.Linear(hidden, hidden, bias=False)
        self.w_o = nn.Linear(atom_dim + hidden, hidden)
        self.depth, self.dropout = depth, gnn.Dropout(dropout)

    def forward(self, g: Graph, x, e):
        paired = g.num_edges % 2 == 0
        if paired:
            s2, d2 = g.src.view(-1, 2), g.dst.view(-1, 2)
            paired = bool((s2[:, 0] == d2[:, 1]).all()) and bool((s2[:, 1] == d2[:, 0]).all())
        if not paired:
            raise ValueError("D-MPNN needs each bond as a pair of directed edges 2b, 2b+1 "
                             "(graphs from graphsci.chem without self-loops)")
        # w_i on [x_src, e], computed per atom then gathered: atoms are half as many as edges.
        atom_dim = x.shape[1]
        w_atom, w_bond = self.w_i.weight[:, :atom_dim], self.w_i.weight[:, atom_dim:].t()
        x_in = F.linear(x, w_atom)
        h0 = torch.addmm(x_in.index_select(0, g.src), e, w_bond)
        h = F.relu(h0)
        # A bond's message is everything into its source atom except what came from its own
        # reverse bond (e ^ 1). Held for every edge, that difference is one SDDMM only in the
        # other order, h[e ^ 1], so the state alternates between the two orders: in edge order,
        # over g, S[dst] - h is the next message in swapped order; in swapped order the same
        # holds over the reversed graph (whose edges keep their order).
        # h0 in swapped order is the same product over each edge's reverse: source x[dst], and
        # the reverse edge's features (a flip of the narrow bond features, not of h0)
        h0_swapped = torch.addmm(x_in.index_select(0, g.dst), e.view(-1, 2, e.shape[1]).flip(1).reshape(e.shape),
                                 w_bond) if self.depth > 1 else None
        layouts = (h0, h0_swapped)
        graphs = (g, g.memo("reversed", g.reverse))
        w_h, swapped = self.w_h.weight.t(), 0
        for _ in range(self.depth - 1):
            into = ops.spmm(graphs[swapped], e=h, op="copy_e")
            message = ops.sddmm(graphs[swapped], into, h, op="sub", lhs_target="v", rhs_target="e")
            swapped ^= 1
            h = self.dropout(torch.addmm(layouts[swapped], message, w_h).relu_())
        atom_msg = ops.spmm(graphs[swapped], e=h, op="copy_e")
        return self.dropout(F.relu(self.w_o(torch.cat([x, atom_msg], 1))))


class AttentiveFPEncoder(nn.Module):
    """AttentiveFP atom embedding (Xiong et al., J. Med. Chem. 2020): attention over neighbours
    (the first layer also reads bond features) with GRU updates."""

    def __init__(self, atom_dim, bond_dim, hidden, depth, dropout):
        super().__init__()
        self.lin_atom = nn.Linear(atom_dim, hidden)
        self.lin_neigh = nn.Linear(hidden + bond_dim, hidden)
        self.att = nn.ModuleList([nn.Linear(2 * hidden, 1) for _ in range(depth)])
        self.msg = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.gru = nn.ModuleList([nn.GRUCell(hidden, hidden) for _ in range(depth)])
        self.dropout = gnn.Dropout(dropout)

    def forward(self, g: Graph, x, e):
        h = F.leaky_relu(self.lin_atom(x))
        for layer, (att, msg, gru) in enumerate(zip(self.att, self.msg, self.gru)):
            neigh = F.leaky_relu(self.lin_neigh(torch.cat([h[g.src], e], 1))) if layer == 0 else h[g.src]
            score = F.leaky_relu(att(torch.cat([h[g.dst], neigh], 1)))
            alpha = self.dropout(ops.edge_softmax(g, score))
            context = F.elu(ops.spmm(g, e=alpha * msg(neigh), op="copy_e"))
            h = F.relu(gru(context, h))
        return h


class AttentiveReadout(nn.Module):
    """AttentiveFP's molecule-level readout: ``steps`` rounds of attention over the atoms from a
    GRU-updated molecule state."""

    def __init__(self, hidden, steps=2, dropout=0.0):
        super().__init__()
        self.att = nn.Linear(2 * hidden, 1)
        self.msg = nn.Linear(hidden, hidden)
        self.gru = nn.GRUCell(hidden, hidden)
        self.steps, self.dropout = steps, gnn.Dropout(dropout)

    def forward(self, g: Graph, h):
        lengths = g.batch_num_nodes.to(h.device)
        state = ops.segment_reduce(h, lengths, "sum")
        for _ in range(self.steps):
            expanded = state.repeat_interleave(lengths, dim=0)
            score = F.leaky_relu(self.att(torch.cat([expanded, h], 1)))
            alpha = self.dropout(gnn.segment_softmax(score, lengths))
            context = F.elu(ops.segment_reduce(alpha * self.msg(h), lengths, "sum"))
            state = F.relu(self.gru(context, state))
        return state


class _Stack(nn.Module):
    """Layers of one of the core convolutions with ReLU and dropout in between."""

    def __init__(self, arch, atom_dim, bond_dim, hidden, depth, dropout):
        super().__init__()
        dims = [atom_dim] + [hidden] * depth
        if arch == "gcn":
            self.convs = nn.ModuleList([gnn.GCNConv(a, b) for a, b in zip(dims[:-1], dims[1:])])
        elif arch == "gat":
            heads = 4
            self.convs = nn.ModuleList([gnn.GATConv(a, b // heads, heads, edge_feats=bond_dim)
                                        for a, b in zip(dims[:-1], dims[1:])])
        else:
            self.convs = nn.ModuleList([
                gnn.GINConv(nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, b)), train_eps=True)
                for a, b in zip(dims[:-1], dims[1:])])
        self.arch, self.dropout = arch, gnn.Dropout(dropout)

    def forward(self, g, x, e):
        for conv in self.convs:
            x = conv(g, x, e) if self.arch == "gat" else conv(g, x)
            x = self.dropout(F.relu(x))
        return x


class MoleculeGNN(nn.Module):
    """Encoder + readout + MLP head; ``forward(graph, x, edge_feats[, mol_feats])`` returns
    ``(num_molecules, n_tasks)`` and ``embed`` the molecule vectors before the head. With
    ``mol_dim`` > 0 the head also reads ``mol_feats`` (molecule descriptors) beside them."""

    def __init__(self, arch: str, atom_dim: int, bond_dim: int, n_tasks: int, hidden: int = 300,
                 depth: int = 3, dropout: float = 0.0, readout: str = "norm", ffn_hidden: int = 300,
                 ffn_layers: int = 2, mol_dim: int = 0):
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
        if arch == "gat" and hidden % 4:
            raise ValueError("gat needs hidden divisible by its 4 heads")
        if arch == "dmpnn":
            self.encoder = DMPNNEncoder(atom_dim, bond_dim, hidden, depth, dropout)
        elif arch == "attentivefp":
            self.encoder = AttentiveFPEncoder(atom_dim, bond_dim, hidden, depth, dropout)
        else:
            self.encoder = _Stack(arch, atom_dim, bond_dim, hidden, depth, dropout)
        if arch == "attentivefp":
            self.readout = AttentiveReadout(hidden, dropout=dropout)
        elif readout in READOUTS:
            self.readout = READOUTS[readout]()
        else:
            raise ValueError(f"unknown readout {readout!r}; expected one of {', '.join(READOUTS)}")
        layers, d = [], hidden + mol_dim
        self.mol_dim = mol_dim
        for _ in range(ffn_layers - 1):
            layers += [gnn.Dropout(dropout), nn.Linear(d, ffn_hidden), nn.ReLU()]
            d = ffn_hidden
        layers += [gnn.Dropout(dropout), nn.Linear(d, n_tasks)]
        self.head = nn.Sequential(*layers)

    def embed(self, g: Graph, x, e) -> torch.Tensor:
        return self.readout(g, self.encoder(g, x, e))

    def forward(self, g: Graph, x, e, mol_feats=None) -> torch.Tensor:
        h = self.embed(g, x, e)
        if self.mol_dim:
            if mol_feats is None or mol_feats.shape != (h.shape[0], self.mol_dim):
                raise ValueError(f"this model needs molecule features of shape ({h.shape[0]}, {self.mol_dim})")
            h = torch.cat([h, mol_feats], 1)
        return self.head(h)
