"""Kernel benchmarks: graphsci's native ops against torch.sparse (CSR), the gather + scatter path
PyG's MessagePassing takes, DGL 2.1's kernels (when importable) and our own pure-torch twins,
all in this one process, float32, on 2 threads. Writes benchmarks/RESULTS.md.

Run with ``make bench`` (it builds the peers' venv and installs graphsci into it)."""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")  # DGL's OpenMP pool reads this at import

import torch  # noqa: E402

import graphsci as gs  # noqa: E402
from graphsci import ops  # noqa: E402
from graphsci.ops import reference  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _results import write_section  # noqa: E402

try:
    import dgl  # noqa: E402
    import dgl.ops as dglops  # noqa: E402
    from dgl.nn.functional import edge_softmax as dgl_edge_softmax  # noqa: E402
except Exception:  # noqa: BLE001 - DGL is optional; any import failure means "not measured"
    dgl = None
try:
    from torch_geometric.utils import scatter as pyg_scatter  # noqa: E402
except Exception:  # noqa: BLE001
    pyg_scatter = None

THREADS = 2


def timeit(fn, min_time=0.4, min_reps=5, max_reps=60) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    return timeit_interleaved({"fn": fn}, min_time, min_reps, max_reps)["fn"]


def timeit_interleaved(fns: dict, min_time=1.0, min_reps=7, max_reps=41) -> dict:
    """Median wall time (ms) of each contender, timed in alternation rep by rep, so that all of
    them see the same machine conditions (this host's speed drifts by tens of percent)."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    start = time.perf_counter()
    reps = 0
    while reps < min_reps or (time.perf_counter() - start < min_time * len(fns) and reps < max_reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
        reps += 1
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


def copy_bandwidth() -> float:
    """Bytes moved per second (read + write) by a large tensor copy: the machine's practical
    memory bandwidth, against which memory-bound kernels are judged."""
    a = torch.empty(64 * 2**20, dtype=torch.float32).fill_(1.0)  # 256 MiB
    b = torch.empty_like(a)
    ms = timeit(lambda: b.copy_(a), min_reps=8)
    return 2 * a.numel() * 4 / (ms / 1000)


# ---- graphs ---------------------------------------------------------------------------------
def cora_graph(root) -> gs.Graph:
    from graphsci.data import load_planetoid
    return load_planetoid("cora", root).graph


def random_graph(n, m, seed=0) -> gs.Graph:
    gen = torch.Generator().manual_seed(seed)
    return gs.Graph(torch.randint(0, n, (m,), generator=gen), torch.randint(0, n, (m,), generator=gen), n)


def molecule_batch(count=256, seed=0) -> gs.Graph:
    """Molecule-shaped graphs: a chain of 15-35 atoms with a few ring closures, both bond
    directions, as a featurizer emits them."""
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(count):
        n = int(torch.randint(15, 36, (1,), generator=gen))
        bonds = [(i, i + 1) for i in range(n - 1)]
        for _ in range(int(torch.randint(1, 4, (1,), generator=gen))):
            i = int(torch.randint(0, n - 6, (1,), generator=gen))
            bonds.append((i, i + 5))
        src = [a for a, b in bonds] + [b for a, b in bonds]
        dst = [b for a, b in bonds] + [a for a, b in bonds]
        graphs.append(gs.Graph(src, dst, n))
    return gs.batch(graphs)


# ---- peers ----------------------------------------------------------------------------------
def to_dgl(g: gs.Graph):
    d = dgl.graph((g.src, g.dst), num_nodes=g.num_nodes)
    d.create_formats_()  # conversions happen here, not inside the timed calls
    return d


def torch_csr(g: gs.Graph) -> torch.Tensor:
    indptr, indices, _ = g.csr
    vals = torch.ones(g.num_edges)
    return torch.sparse_csr_tensor(indptr.long(), indices.long(), vals, (g.num_nodes, g.num_nodes))


def gather_scatter(g: gs.Graph, x: torch.Tensor) -> torch.Tensor:
    msg = x[g.src]
    if pyg_scatter is not None:
        return pyg_scatter(msg, g.dst, dim=0, dim_size=g.num_nodes, reduce="sum")
    return torch.zeros(g.num_nodes, x.shape[1]).index_add_(0, g.dst, msg)


# ---- measurements ---------------------------------------------------------------------------
def fwd_bwd(fn, *inputs):
    def run():
        out = fn(*inputs)
        out.backward(torch.ones_like(out))
    return run


def measure(name: str, g: gs.Graph, D: int, bandwidth: float, rows: list, heavy_reference=True):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(g.num_nodes, D, generator=gen)
    _ = g.csr, g.csc, g.in_degrees()
    E, N = g.num_edges, g.num_nodes
    size = f"{name} (N={N:,}, E={E:,}, D={D})"
    bound_ms = 1000 * (8 * E + 8 * N * D) / bandwidth
    dg = to_dgl(g) if dgl is not None else None

    def row(op, ours_fn, peers: dict, bound=None):
        timed = timeit_interleaved({"ours": ours_fn, **{k: f for k, f in peers.items() if f is not None}})
        r = {"op": op, "size": size, "bound": bound, **timed}
        rows.append(r)
        print(f"  {op:28s} {size:45s} ours {r['ours']:9.3f} ms  " + "  ".join(
            f"{k} {v:9.3f} ms" for k, v in r.items() if k not in ("op", "size", "ours", "bound") and v is not None),
            flush=True)

    A = torch_csr(g)
    row("spmm copy_u-sum", lambda: ops.spmm(g, x),
        {"torch.sparse.mm": lambda: torch.sparse.mm(A, x),
         "gather+scatter (PyG)": lambda: gather_scatter(g, x),
         "DGL 2.1": (lambda: dglops.copy_u_sum(dg, x)) if dg is not None else None},
        bound=bound_ms)
    w = torch.rand(E, generator=gen)
    row("spmm u_mul_e-sum", lambda: ops.spmm(g, x, w, "u_mul_e"),
        {"DGL 2.1": (lambda: dglops.u_mul_e_sum(dg, x, w.view(-1, 1))) if dg is not None else None},
        bound=bound_ms)
    row("spmm copy_u-max", lambda: ops.spmm(g, x, reduce="max"),
        {"DGL 2.1": (lambda: dglops.copy_u_max(dg, x)) if dg is not None else None})

    H = 8
    xh = x.view(N, H, D // H) if D % H == 0 else x.view(N, 1, D)
    row("sddmm u_dot_v (8 heads)", lambda: ops.sddmm(g, xh, xh, "dot"),
        {"gather+mul+sum (torch)": lambda: (xh[g.src] * xh[g.dst]).sum(-1),
         "DGL 2.1": (lambda: dglops.u_dot_v(dg, xh, xh)) if dg is not None else None})
    s = torch.randn(E, H, generator=gen)
    row("edge_softmax (8 heads)", lambda: ops.edge_softmax(g, s),
        {"torch twin": lambda: reference.edge_softmax(g, s),
         "DGL 2.1": (lambda: dgl_edge_softmax(dg, s)) if dg is not None else None})
    lengths = g.batch_num_nodes if g.batch_size > 1 else torch.tensor([N // 2, N - N // 2])
    row("segment_reduce sum", lambda: ops.segment_reduce(x, lengths),
        {"torch.segment_reduce": lambda: torch.segment_reduce(x, "sum", lengths=lengths),
         "DGL 2.1": (lambda: dglops.segment_reduce(lengths, x, "sum")) if dg is not None else None})

    # forward + backward against the pure-torch twins (and DGL)
    xg = x.clone().requires_grad_()
    wg = w.clone().requires_grad_()
    sg = s.clone().requires_grad_()
    twin_spmm = fwd_bwd(lambda a, b: reference.spmm(g, a.view(N, 1, D), b.view(E, 1, 1), "u_mul_e", "sum"), xg, wg)
    row("fwd+bwd spmm u_mul_e-sum", fwd_bwd(lambda a, b: ops.spmm(g, a, b, "u_mul_e"), xg, wg),
        {"torch twin": twin_spmm if heavy_reference else None,
         "DGL 2.1": fwd_bwd(lambda a, b: dglops.u_mul_e_sum(dg, a, b.view(-1, 1)), xg, wg) if dg is not None else None})
    row("fwd+bwd spmm copy_u-mean", fwd_bwd(lambda a: ops.spmm(g, a, reduce="mean"), xg),
        {"torch twin": fwd_bwd(lambda a: reference.spmm(g, a.view(N, 1, D), None, "copy_u", "mean"), xg)
         if heavy_reference else None,
         "DGL 2.1": fwd_bwd(lambda a: dglops.copy_u_mean(dg, a), xg) if dg is not None else None})
    row("fwd+bwd edge_softmax", fwd_bwd(lambda a: ops.edge_softmax(g, a), sg),
        {"torch twin": fwd_bwd(lambda a: reference.edge_softmax(g, a), sg),
         "DGL 2.1": fwd_bwd(lambda a: dgl_edge_softmax(dg, a), sg) if dg is not None else None})


PEERS = ["torch.sparse.mm", "gather+scatter (PyG)", "gather+mul+sum (torch)", "torch.segment_reduce",
         "torch twin", "DGL 2.1"]


def write_results(rows, bandwidth, argv):
    lines = [
        "## Kernels", "",
        f"`{' '.join(['python', 'benchmarks/kernels.py'] + argv)}` (run by `make bench`) — one process, "
        f"float32, {THREADS} threads, contenders timed in alternation, median wall time; "
        f"{platform.machine()}, graphsci kernels built for `{ops.native_isa()}`, "
        f"torch {torch.__version__}, DGL {dgl.__version__ if dgl else 'not installed'}.", "",
        f"Measured copy bandwidth: **{bandwidth / 1e9:.1f} GB/s** (read + write of a 256 MiB copy). "
        "The SpMM bound is the time to move 8E + 8ND bytes at that rate.", "",
        "Ratios are peer time / our time: above 1 means graphsci is faster.", "",
        "| op | size | graphsci ms | bound ms | " + " | ".join(f"{p} ms (ratio)" for p in PEERS) + " |",
        "|---|---|---:|---:|" + "---:|" * len(PEERS),
    ]
    for r in rows:
        cells = []
        for p in PEERS:
            v = r.get(p)
            cells.append("" if v is None else f"{v:.3f} ({v / r['ours']:.2f}x)")
        bound = "" if r["bound"] is None else f"{r['bound']:.3f}"
        lines.append(f"| {r['op']} | {r['size']} | {r['ours']:.3f} | {bound} | " + " | ".join(cells) + " |")
    write_section("kernels", "\n".join(lines))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None, help="dataset root (default: ../shared/data)")
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    bandwidth = copy_bandwidth()
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s; DGL: {dgl.__version__ if dgl else 'absent'}")
    rows: list = []
    measure("Cora", cora_graph(args.data), 64, bandwidth, rows)
    measure("256 molecules", molecule_batch(), 64, bandwidth, rows)
    if not args.quick:
        big = random_graph(100_000, 1_000_000)
        measure("random", big, 64, bandwidth, rows)
        measure("random", big, 256, bandwidth, rows)
    if args.quick:
        print("quick run: RESULTS.md not written")
    else:
        write_results(rows, bandwidth, argv)


if __name__ == "__main__":
    main()
