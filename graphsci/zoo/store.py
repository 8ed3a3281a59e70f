"""Where pretrained models live and how they get there: the bundled folder, the user cache, and
a download from a base URL, each file checked against the sha256 in the registry.

Imports nothing heavy (no torch): the command line lists and describes models with this alone.
"""
from __future__ import annotations

import difflib
import hashlib
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BUNDLED = Path(__file__).with_name("models")
REGISTRY = Path(__file__).with_name("registry.json")
DEFAULT_URL = "https://zoo.graphsci.org/v1"
FILES = ("card.json", "model.safetensors")


class ZooError(ValueError):
    """A model cannot be found, fetched or verified; the message says what to do."""


class _NotTheRegisteredFile(ZooError):
    """The server sent a complete file that is not the registered one."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def registry() -> dict:
    """Model name -> entry (task, dataset, split, metrics, files with sha256 and size). A local
    registry file named by ``GRAPHSCI_ZOO_REGISTRY`` adds to (or overrides) the bundled one."""
    entries = json.loads(REGISTRY.read_text())["models"]
    extra = os.environ.get("GRAPHSCI_ZOO_REGISTRY")
    if extra:
        try:
            entries.update(json.loads(Path(extra).read_text())["models"])
        except (OSError, ValueError, KeyError) as exc:
            raise ZooError(f"GRAPHSCI_ZOO_REGISTRY={extra} cannot be read as a zoo registry: {exc}") from exc
    return entries


def entry(name: str) -> dict:
    models = registry()
    if name not in models:
        close = difflib.get_close_matches(name, list(models), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ZooError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(models))}; "
                       f"`graphsci zoo list` shows them)")
    return models[name]


def cache_dir() -> Path:
    """``$GRAPHSCI_HOME/zoo``, else the platform's user cache folder (e.g. ~/.cache/graphsci/zoo)."""
    home = os.environ.get("GRAPHSCI_HOME")
    if home:
        return Path(home) / "zoo"
    import platformdirs
    return Path(platformdirs.user_cache_dir("graphsci")) / "zoo"


def base_url() -> str:
    return os.environ.get("GRAPHSCI_ZOO_URL", DEFAULT_URL).rstrip("/")


def _verified(folder: Path, files: dict) -> bool:
    return all((folder / f).is_file() and (folder / f).stat().st_size == meta["size"]
               and sha256(folder / f) == meta["sha256"] for f, meta in files.items())


def locate(name: str, download: bool = True, progress: bool = True) -> Path:
    """The folder holding a verified copy of model ``name``: bundled, cached, or downloaded now."""
    info = entry(name)
    files = info["files"]
    bundled = BUNDLED / name
    if bundled.is_dir():
        if not _verified(bundled, files):
            raise ZooError(f"the bundled model {bundled} does not match its registry checksums; "
                           f"reinstall graphsci")
        return bundled
    cached = cache_dir() / name
    if cached.is_dir() and _verified(cached, files):
        return cached
    if not download:
        raise ZooError(f"model {name!r} is not bundled and not in the cache {cached}")
    return fetch(name, info, progress=progress)


def fetch(name: str, info: dict | None = None, progress: bool = True, retries: int = 3,
          backoff: float = 0.5) -> Path:
    """Downloads a model's files into the cache, verifying each; a file is moved into place only
    when complete and matching its checksum, so an interrupted download leaves nothing behind."""
    info = info or entry(name)
    target = cache_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    for fname, meta in info["files"].items():
        dest = target / fname
        if Path(fname).is_absolute() or ".." in Path(fname).parts:
            raise ZooError(f"the registry entry of {name} names a file outside its folder: {fname!r}")
        dest.parent.mkdir(parents=True, exist_ok=True)     # a blend's models sit in sub-folders
        if dest.is_file() and dest.stat().st_size == meta["size"] and sha256(dest) == meta["sha256"]:
            continue
        url = f"{base_url()}/{name}/{fname}"
        _download(url, dest, meta, retries, backoff, progress)
    return target


def _download(url: str, dest: Path, meta: dict, retries: int, backoff: float, progress: bool) -> None:
    last = None
    for attempt in range(retries):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                _stream(url, out, meta["size"], progress)
            got = sha256(Path(tmp))
            if os.path.getsize(tmp) != meta["size"]:
                raise ZooError(f"{url} is truncated: got {os.path.getsize(tmp)} of {meta['size']} bytes")
            if got != meta["sha256"]:
                raise _NotTheRegisteredFile(
                    f"checksum mismatch for {url}: sha256 {got[:16]}..., expected "
                    f"{meta['sha256'][:16]}...; the file on the server is corrupt or not the "
                    f"registered version")
            os.replace(tmp, dest)
            return
        except urllib.error.HTTPError as exc:
            last = ZooError(f"HTTP {exc.code} ({exc.reason}) fetching {url}")
            if exc.code < 500:
                break
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = ZooError(f"cannot download {url}: {reason}. Without network, place the file "
                            f"by hand at {dest} (the model folder is {dest.parent}); "
                            f"GRAPHSCI_ZOO_URL sets another source")
        except http.client.HTTPException as exc:
            last = ZooError(f"{url} is truncated: the server closed the connection mid-transfer ({exc!r})")
        except _NotTheRegisteredFile as exc:
            last = exc
            break       # a wrong file is not a transient fault: no retry
        except ZooError as exc:
            last = exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise last


def _stream(url: str, out, expected: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=30) as response:
        bar = tqdm(total=expected, unit="B", unit_scale=True, desc=url.rsplit("/", 2)[-2],
                   disable=(not progress or not sys.stderr.isatty()) or None, file=sys.stderr)
        written = 0
        with bar:
            while True:
                block = response.read(1 << 16)
                if not block:
                    break
                written += len(block)
                if written > expected:
                    # A server that streams without end must not fill the disk (or hang the
                    # call) before the checksum could refuse the file.
                    raise _NotTheRegisteredFile(
                        f"{url} is larger than its registered {expected} bytes; the file on the "
                        f"server is not the registered version")
                out.write(block)
                bar.update(len(block))
