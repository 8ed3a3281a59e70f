"""Where the shared datasets live."""
from __future__ import annotations

import os
from pathlib import Path


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The dataset folder: ``root`` if given, else ``$GRAPHSCI_DATA``, else ``../shared/data``
    or ``./shared/data`` from the working directory."""
    if root is not None:
        path = Path(root)
        if not path.is_dir():
            raise FileNotFoundError(f"data root {path} does not exist")
        return path
    env = os.environ.get("GRAPHSCI_DATA")
    candidates = [Path(env)] if env else [Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        "no dataset folder found; pass root=... or set GRAPHSCI_DATA (looked in "
        + ", ".join(str(p) for p in candidates) + ")")
