"""The ``graphsci`` command: predict, train, evaluate and the model zoo.

Heavy modules (torch, RDKit, pandas) load inside the subcommands that need them, so ``--help``
and ``zoo list`` answer at once. The command line is where the domains meet: it recognises the
input kind from the file and hands it to the matching domain.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import sys
import time
from pathlib import Path

from graphsci import strict_json

EPILOG = """examples:
  graphsci zoo list
  graphsci predict esol molecules.csv -o predictions.csv
  graphsci predict esol compounds.sdf --smiles-col smiles --no-uncertainty
  graphsci train data.csv --smiles-col smiles --target-cols logS --task regression \\
      --model dmpnn --split scaffold -o my_model
  graphsci train hiv.csv --target-cols HIV_active --task classification --with-gbdt -o hiv_model
  graphsci evaluate my_model test.csv
  graphsci predict my_model new.smi -o new.csv
  graphsci predict protease_flap structures/ -o flaps.csv

Input rows that cannot be read get a message in the output's `error` column and empty
predictions; the run goes on (exit status 0) unless --strict is given.
Environment: GRAPHSCI_HOME (cache folder), GRAPHSCI_ZOO_URL (download source)."""

EXIT_OK, EXIT_INVALID_ROW, EXIT_BAD_INPUT = 0, 1, 2


class CommandError(Exception):
    """A failure the user can fix; printed as one line, exit status 2."""


class InvalidRow(Exception):
    """An invalid row under --strict; printed as one line, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    from graphsci import __version__

    parser = argparse.ArgumentParser(
        prog="graphsci", description="Graph machine learning for molecules: predict properties "
        "with pretrained or your own models, train and evaluate them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"graphsci {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("predict", help="predict properties of molecules or protein structures",
                       description="Predict with a zoo model or a saved model folder. Molecule "
                       "models read .csv, .csv.gz, .tsv, .smi, .sdf (and .gz forms); protein models "
                       "read .pdb/.cif files (or .gz) or folders of them, one output row per "
                       "structure (per chain with --per-chain); pocket models read a KLIFS-style "
                       "Calpha table (id, position, x, y, z). Several INPUTs (a shell glob) are "
                       "predicted in order into one output; molecule files then need the same "
                       "columns, and a first column `file` says where each row came from.")
    p.add_argument("model", metavar="MODEL", help="zoo name (see `graphsci zoo list`) or model folder")
    p.add_argument("inputs", metavar="INPUT", type=Path, nargs="+")
    p.add_argument("-o", "--output", type=Path, help="output CSV (default: standard output)")
    p.add_argument("--smiles-col", help="SMILES column of a table (default: guessed)")
    p.add_argument("--batch-size", type=int, default=10000, help="rows read, featurised and "
                   "predicted at a time (memory grows with it; default 10000)")
    p.add_argument("--jobs", type=int, default=0, help="featurisation worker processes "
                   "(default 0: one per core; 1: none, featurise in the main process)")
    p.add_argument("--strict", action="store_true", help="stop with exit status 1 at the first invalid row")
    p.add_argument("--no-uncertainty", action="store_true", help="leave out the ensemble std columns")
    p.add_argument("--format", choices=("csv", "table"), default="csv",
                   help="csv (default) or an aligned text table for reading")
    p.add_argument("--head", type=int, metavar="N", help="predict only the first N rows")
    p.add_argument("--per-chain", action="store_true", help="protein models: one row per chain")

    t = sub.add_parser("train", help="train a molecule property model on a CSV file")
    t.add_argument("data", type=Path)
    t.add_argument("--smiles-col", help="SMILES column (default: guessed)")
    t.add_argument("--target-cols", nargs="+", required=True)
    t.add_argument("--task", choices=("regression", "classification"), required=True)
    t.add_argument("--model", default="dmpnn", choices=("dmpnn", "attentivefp", "gin", "gcn", "gat", "gbdt"),
                   help="a GNN architecture, or gbdt: LightGBM on Morgan fingerprints")
    t.add_argument("--with-gbdt", action="store_true",
                   help="blend the GNN with a fingerprint GBDT (the mean of the two; best on HIV's scaffold split)")
    t.add_argument("--split", default="scaffold", choices=("random", "scaffold", "stratified"),
                   help="80/10/10 train/validation/test split (default scaffold)")
    t.add_argument("--epochs", type=int, default=50)
    t.add_argument("--patience", type=int, metavar="N",
                   help="stop a GNN after N epochs without a better validation score (default: run every epoch)")
    t.add_argument("--n-models", type=int, default=1, help="ensemble size (uncertainty)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--units", nargs="+", help="units of the targets, in --target-cols order")
    t.add_argument("-o", "--output", type=Path, required=True, help="model folder to write")

    e = sub.add_parser("evaluate", help="score a model on a labelled CSV file")
    e.add_argument("model", metavar="MODEL")
    e.add_argument("data", type=Path)
    e.add_argument("--smiles-col")

    z = sub.add_parser("zoo", help="list, describe or fetch pretrained models")
    zsub = z.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    zsub.add_parser("list", help="the registered models")
    zsub.add_parser("info", help="one model's registry entry and card").add_argument("name")
    zsub.add_parser("pull", help="download a model into the cache").add_argument("name")
    return parser


def run() -> None:
    """The ``graphsci`` executable: :func:`main`, then a quick exit. Tearing down an interpreter
    that has loaded torch takes about half a second (finalising its modules and objects) and
    does nothing a finished command needs, so once the output is flushed and the worker
    processes have stopped, the process leaves without it."""
    rc = main()
    if "torch" not in sys.modules:
        sys.exit(rc)
    pools = sys.modules.get("graphsci.chem.encoding")
    for pool in getattr(pools, "_POOLS", {}).values():
        pool.shutdown()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):   # a reader that went away, or a closed stream
        rc = rc or 1
    sys.stderr.flush()
    os._exit(rc)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    handler = {"predict": _predict, "train": _train, "evaluate": _evaluate, "zoo": _zoo}[args.command]
    try:
        return handler(args)
    except CommandError as exc:
        print(f"graphsci {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InvalidRow as exc:
        print(f"graphsci {args.command}: error: {exc} (--strict)", file=sys.stderr)
        return EXIT_INVALID_ROW
    except KeyboardInterrupt:
        print("graphsci: interrupted", file=sys.stderr)
        return 130


# ---- zoo -------------------------------------------------------------------------------------
def _zoo(args) -> int:
    from graphsci.zoo import ZooError, list_models, model_info, pull

    try:
        if args.zoo_command == "list":
            rows = [(m["name"], m["task"], m["dataset"], m["split"], _metric_text(m["metrics"]),
                     "bundled" if m["bundled"] else "download") for m in list_models()]
            _print_table(("model", "task", "data", "split", "test metric", "where"), rows)
        elif args.zoo_command == "info":
            print(strict_json.dumps(model_info(args.name)))
        else:
            print(pull(args.name))
    except ZooError as exc:
        raise CommandError(str(exc)) from exc
    return EXIT_OK


def _metric_text(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())


def _print_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def _load_model(name):
    from graphsci.zoo import ZooError, load_pretrained

    try:
        return load_pretrained(name, progress=sys.stderr.isatty())
    except ZooError as exc:
        raise CommandError(str(exc)) from exc
    except ValueError as exc:   # a saved folder whose card or weights are corrupt
        raise CommandError(str(exc)) from exc


# ---- predict ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _output(path):
    """The output file, or standard output when no path is given. A file is written beside its
    final name and moved there only when the run succeeds: a failed, stopped (--strict) or
    interrupted run leaves an existing file as it was, and the output may be one of the inputs
    (opening it for writing first would have emptied it before it was read)."""
    import stat
    import tempfile

    if not path:
        try:
            yield sys.stdout
        finally:
            sys.stdout.flush()
        return
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"cannot write {path}: it is a folder; name a file")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        # /dev/stdout, a pipe: nothing to protect, and nowhere beside it to write
        with open(path, "w", newline="") as out:
            yield out
        return
    path = Path(os.path.realpath(path))     # a link is written through, as open() would
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", newline="") as out:
            yield out
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)       # as open() would have made it, not mkstemp's 0600
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def _input_errors():
    """An input that cannot be read at all becomes a one-line command error."""
    from graphsci.cli.molecules import InputError

    try:
        yield
    except InputError as exc:
        raise CommandError(str(exc)) from exc


def _keep_freed_memory():
    """Each chunk allocates and frees the same large tensors; by default glibc hands blocks
    this large back to the OS at every free, and the next chunk pays page faults on fresh
    memory (about a third of the first pass's time). Keep them in the heap for reuse."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:     # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 << 20)
    libc.mallopt(m_trim_threshold, 1 << 30)


def _limited(reader, head):
    """The reader's chunks, cut after ``head`` rows (all of them for None). A table with a
    header and no rows gives its one empty chunk, so the output is a header, not nothing."""
    n = 0
    for frame, smiles, read_errors in reader:
        if head is not None and n + len(frame) > head:
            keep = head - n
            frame, smiles, read_errors = frame.iloc[:keep], smiles[:keep], read_errors[:keep]
        if len(frame) == 0 and n:
            return
        n += len(frame)
        yield frame, smiles, read_errors


def _start_featurising(args, workers: int, size: int) -> None:
    """Starts featurising the first rows in worker processes before pandas and torch are
    imported to load the model (about two seconds of start-up the workers put to use). The
    chunked reader later hands the same SMILES to the model, which picks the results up."""
    from graphsci.chem.encoding import prefetch
    from graphsci.cli.molecules import first_smiles
    from graphsci.zoo import local_card

    card = local_card(args.model)
    if not isinstance(card, dict) or card.get("format") != "graphsci.molecule-predictor":
        return
    try:
        atom, bond = list(card["featurizer"]["atom"]["names"]), list(card["featurizer"]["bond"]["names"])
    except (KeyError, TypeError):   # a damaged card: loading the model says what is wrong
        return
    smiles = first_smiles(args.inputs[0], args.smiles_col, size)
    if smiles:
        prefetch(smiles, atom, bond, workers)


def _predict(args) -> int:
    from graphsci.cli.molecules import MOLECULE_SUFFIXES, chunks_of_files, write_chunk

    if args.batch_size < 1 or args.jobs < 0 or (args.head is not None and args.head < 1):
        raise CommandError("--batch-size and --head must be at least 1, --jobs at least 0")
    _keep_freed_memory()
    workers = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    # Worker processes and the model's threads share the cores while both run; threads that
    # spin while waiting for work would take CPU from the workers.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    size = min(args.batch_size, args.head or args.batch_size)
    first = args.inputs[0]
    if workers > 1 and first.is_file() and first.stat().st_size > 64_000 and \
            first.name.lower().endswith(MOLECULE_SUFFIXES):
        _start_featurising(args, workers, size)
    model = _load_model(args.model)
    if getattr(model, "input_kind", None) != "molecule":  # the zoo's other kind
        return _predict_proteins(args, model)
    model.set_params(n_jobs=workers, progress=False)
    units = (getattr(model, "metadata_", {}) or {}).get("units", {})
    rename = {t: f"{t} ({units[t]})" if units.get(t) else t for t in model.target_names_}
    ensemble = model.ensemble_size > 1 and not args.no_uncertainty
    n_read = n_bad = 0
    wrote = False
    t0 = time.perf_counter()
    with _output(args.output) as out, _input_errors():
        for frame, smiles, read_errors in _limited(chunks_of_files(args.inputs, args.smiles_col, size),
                                                   args.head):
            pred = model.predict_frame(smiles)
            errors = [r or p for r, p in zip(read_errors, pred["error"])]
            result = frame.reset_index(drop=True).copy()
            for t in model.target_names_:
                result[rename[t]] = pred[t].to_numpy()
                if ensemble:
                    result[f"{t}_std"] = pred[f"{t}_std"].to_numpy()
            result["error"] = [e or "" for e in errors]
            bad = [i for i, e in enumerate(errors) if e]
            if bad and args.strict:
                raise InvalidRow(f"row {n_read + bad[0] + 1}: {errors[bad[0]]}")
            if len(frame) or not wrote:  # header-only tables give the header once
                write_chunk(result, out, header=not wrote, fmt=args.format)
                wrote = True
            n_read, n_bad = n_read + len(frame), n_bad + len(bad)
            if sys.stderr.isatty():
                print(f"\r{n_read} rows ...", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print("\r", end="", file=sys.stderr)
    where = f" -> {args.output}" if args.output else ""
    print(f"graphsci predict: {n_read} rows read, {n_read - n_bad} predicted, {n_bad} invalid "
          f"({time.perf_counter() - t0:.1f} s){where}", file=sys.stderr)
    return EXIT_OK


def _predict_proteins(args, model) -> int:
    from graphsci.cli.molecules import write_chunk
    from graphsci.cli.structures import protein_inputs

    model.set_params(progress=False)
    units = (getattr(model, "metadata_", {}) or {}).get("units", {})
    columns = model._columns()
    rename = {c: f"{c} ({units[c]})" if units.get(c) else c for c in columns}
    ensemble = len(model.models_) > 1 and not args.no_uncertainty
    kind = (getattr(model, "metadata_", {}) or {}).get("input", "structure")
    t0 = time.perf_counter()
    n_read = n_bad = 0
    with _output(args.output) as out, _input_errors():
        for labels, items, read_errors in protein_inputs(args.inputs, kind, args.per_chain, args.head,
                                                         min(args.batch_size, 64)):
            readable = [i for i, e in enumerate(read_errors) if e is None]
            pred = model.predict_frame([items[i] for i in readable]) if readable else None
            errors, result = list(read_errors), labels.copy()
            for c in columns:
                result[rename[c]] = None
                if ensemble:
                    result[f"{c}_std"] = None
            for j, i in enumerate(readable):
                errors[i] = pred["error"].iloc[j]
                if not errors[i]:
                    for c in columns:
                        result.loc[i, rename[c]] = pred[c].iloc[j]
                        if ensemble:
                            result.loc[i, f"{c}_std"] = pred[f"{c}_std"].iloc[j]
            result["error"] = [e or "" for e in errors]
            bad = [i for i, e in enumerate(errors) if e]
            if bad and args.strict:
                raise InvalidRow(f"{labels.iloc[bad[0], 0]}: {errors[bad[0]]}")
            write_chunk(result, out, header=n_read == 0, fmt=args.format)
            n_read, n_bad = n_read + len(result), n_bad + len(bad)
    where = f" -> {args.output}" if args.output else ""
    print(f"graphsci predict: {n_read} structures read, {n_read - n_bad} predicted, {n_bad} invalid "
          f"({time.perf_counter() - t0:.1f} s){where}", file=sys.stderr)
    return EXIT_OK


# ---- train / evaluate ------------------------------------------------------------------------
def _read_labelled(path: Path, smiles_col, target_cols):
    import pandas as pd
    from graphsci.chem.encoding import guess_smiles_column

    try:
        df = pd.read_csv(path, compression="infer")
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: cannot be read as a CSV table: {exc}") from exc
    col = smiles_col or guess_smiles_column(df)
    missing = [c for c in [col, *target_cols] if c not in df.columns]
    if missing:
        raise CommandError(f"{path}: no column(s) {', '.join(map(repr, missing))} "
                           f"(columns: {', '.join(map(str, df.columns))})")
    try:
        y = df[list(target_cols)].apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    except ValueError as exc:
        raise CommandError(f"{path}: target columns must be numeric (empty = missing): {exc}") from exc
    return df, col, y


def _train(args) -> int:
    import numpy as np
    from rdkit import Chem, rdBase

    from graphsci.chem import FingerprintGBDT, MoleculeBlend, MoleculePropertyPredictor
    from graphsci.chem.splits import random_split, scaffold_split, stratified_split

    if Path(args.output).exists() and not Path(args.output).is_dir():
        # found before training, not after it
        raise CommandError(f"-o {args.output} is a file; a saved model is a folder")
    df, col, y = _read_labelled(args.data, args.smiles_col, args.target_cols)
    if args.units and len(args.units) != len(args.target_cols):
        raise CommandError("give one --units entry per target column")
    with rdBase.BlockLogs():
        ok = np.array([isinstance(s, str) and Chem.MolFromSmiles(s) is not None for s in df[col]])
    if (~ok).any():
        print(f"graphsci train: {int((~ok).sum())} of {len(df)} rows have invalid SMILES and are left out "
              f"(first: row {int(np.flatnonzero(~ok)[0]) + 1}: {df[col].iloc[int(np.flatnonzero(~ok)[0])]!r})",
              file=sys.stderr)
    rows = np.flatnonzero(ok)
    if len(rows) < 10:
        raise CommandError(f"{args.data}: {len(rows)} valid molecules; at least 10 are needed")
    smiles, yv = df[col].to_numpy()[rows], y[rows]
    if args.split == "random":
        parts = random_split(len(rows), (0.8, 0.1, 0.1), args.seed)
    elif args.split == "scaffold":
        parts = scaffold_split(list(smiles), (0.8, 0.1, 0.1))
    else:
        if yv.shape[1] != 1:
            raise CommandError("--split stratified needs exactly one target column")
        parts = stratified_split(yv[:, 0], (0.8, 0.1, 0.1), args.seed)
    train, val, test = parts
    if args.model == "gbdt" and (args.with_gbdt or args.n_models != 1 or args.patience is not None):
        raise CommandError("--model gbdt takes none of --with-gbdt, --n-models and --patience")
    if args.patience is not None and args.patience < 1:
        raise CommandError("--patience must be at least 1")
    progress = sys.stderr.isatty()
    gbdt = FingerprintGBDT(task=args.task, seed=args.seed, progress=progress)
    if args.model == "gbdt":
        model = gbdt
    else:
        model = MoleculePropertyPredictor(task=args.task, arch=args.model, epochs=args.epochs,
                                          patience=args.patience, n_models=args.n_models, seed=args.seed,
                                          progress=progress)
        if args.with_gbdt:
            model = MoleculeBlend([model, gbdt])
    try:
        model.fit(list(smiles[train]), yv[train], target_cols=args.target_cols,
                  eval_set=(list(smiles[val]), yv[val]) if len(val) else None)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    metrics = model.evaluate(list(smiles[test]), yv[test]) if len(test) else {}
    metadata = {"dataset": Path(args.data).name, "split": f"{args.split} 80/10/10, seed {args.seed}",
                "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(test)),
                "test_metrics": metrics,
                "units": dict(zip(args.target_cols, args.units or [""] * len(args.target_cols)))}
    try:
        model.save(args.output, metadata)
    except OSError as exc:
        raise CommandError(f"cannot save the model to {args.output}: {exc.strerror or exc}") from exc
    print(strict_json.dumps({"model": str(args.output), "test": metrics}))
    return EXIT_OK


def _evaluate(args) -> int:
    model = _load_model(args.model)
    model.set_params(progress=False)
    df, col, y = _read_labelled(args.data, args.smiles_col, model.target_names_)
    scores = model.evaluate(df[col].tolist(), y)
    print(strict_json.dumps({"model": str(args.model), "data": str(args.data), "rows": len(df), **scores}))
    return EXIT_OK
