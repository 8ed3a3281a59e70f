"""Pretrained models: ``list_models()``, ``model_info(name)``, ``load_pretrained(name)``.

A model is a folder with ``model.safetensors`` (weights, never a pickle) and ``card.json``
(architecture, featurizer, tasks and units, normalisation, data, split, test metrics, package
version, weights checksum). The registry lists every model with the sha256 of both files; a model
is looked up in the bundled folder, then the user cache, then downloaded (see
:mod:`graphsci.zoo.store` for the environment variables).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from graphsci.zoo.store import ZooError, cache_dir, locate, registry

__all__ = ["list_models", "model_info", "load_pretrained", "pull", "ZooError", "cache_dir"]

# card "format" -> (module, class) able to load it. The zoo is where domain models are wired
# together by name, so it imports the domain lazily, by the card it reads.
LOADERS = {"graphsci.molecule-predictor": ("graphsci.chem.predictor", "MoleculePropertyPredictor"),
           "graphsci.fingerprint-gbdt": ("graphsci.chem.gbdt", "FingerprintGBDT"),
           "graphsci.molecule-blend": ("graphsci.chem.blend", "MoleculeBlend"),
           "graphsci.protein-predictor": ("graphsci.protein.predictor", "ProteinPropertyPredictor")}


def list_models() -> list[dict]:
    """One dict per registered model: name, task, dataset, split, metrics, bundled or not."""
    out = []
    for name, e in sorted(registry().items()):
        out.append({"name": name, **{k: v for k, v in e.items() if k != "files"},
                    "bundled": (Path(__file__).with_name("models") / name).is_dir()})
    return out


def model_info(name: str) -> dict:
    """The registry entry and, when the model is available locally, its card."""
    from graphsci.zoo.store import entry
    info = dict(entry(name))
    try:
        info["card"] = json.loads((locate(name, download=False) / "card.json").read_text())
    except ZooError:
        info["card"] = None
    return info


def model_folder(name: str | os.PathLike) -> Path | None:
    """``name`` as a saved-model folder, or None when it names a zoo model. A folder that
    happens to share a zoo model's name (a ``hiv/`` of one's own data) does not hide the zoo
    model unless it holds a card.json; one with no card that names no zoo model is an error."""
    folder = Path(name)
    if (folder / "card.json").is_file():
        return folder
    if folder.is_dir() and str(name) not in registry():
        raise ZooError(f"{folder} has no card.json: not a saved graphsci model folder")
    return None


def local_card(name: str | os.PathLike) -> dict | None:
    """The card of a saved-model folder, or of a zoo model that is here without downloading;
    None when there is none or it cannot be read (loading the model then says why)."""
    try:
        folder = model_folder(name) or locate(str(name), download=False)
        return json.loads((folder / "card.json").read_text())
    except (ZooError, OSError, ValueError):
        return None


def pull(name: str, progress: bool = True) -> Path:
    """Makes the model available locally (downloading it if needed) and returns its folder."""
    return locate(name, download=True, progress=progress)


def load_pretrained(name: str | os.PathLike, progress: bool = True):
    """A ready-to-predict estimator from a zoo name or a saved-model folder."""
    from importlib import import_module

    folder = model_folder(name) or locate(str(name), download=True, progress=progress)
    card_path = folder / "card.json"
    try:
        fmt = json.loads(card_path.read_text()).get("format")
    except (OSError, ValueError, AttributeError) as exc:
        raise ZooError(f"{card_path} cannot be read as a model card: {exc}") from exc
    if fmt not in LOADERS:
        raise ZooError(f"{card_path} has format {fmt!r}, which this graphsci cannot load "
                       f"(known: {', '.join(LOADERS)})")
    module, cls = LOADERS[fmt]
    return getattr(import_module(module), cls).load(folder)
