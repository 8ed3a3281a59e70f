"""The saved form of a trained estimator: ``model.safetensors`` (the weights of every ensemble
member, never a pickle) beside ``card.json`` (what is needed to rebuild and use the model)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import torch

import graphsci
from graphsci import strict_json
from graphsci.zoo.store import sha256


def write_model_dir(directory: str | os.PathLike, card: dict, members) -> Path:
    """Writes the members' weights and ``card`` (plus the weights file name and checksum)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model{k}.{name}": t.detach().contiguous()
               for k, m in enumerate(members) for name, t in m.state_dict().items()}
    weights = directory / "model.safetensors"
    save_file(tensors, str(weights))
    return write_card(directory, {**card, "n_models": len(members),
                                  "weights": {"file": weights.name, "sha256": sha256(weights)}})


def write_card(directory: Path, card: dict) -> Path:
    """Writes ``card.json`` (stamped with this graphsci's version) into ``directory``."""
    card = {**card, "graphsci_version": graphsci.__version__}
    (directory / "card.json").write_text(strict_json.dumps(card))
    return directory


def read_card(directory: str | os.PathLike, fmt: str, version: int) -> dict:
    """The card of a saved model of format ``fmt``; a missing or corrupt card, another format or
    a newer card version is a ValueError naming the file."""
    card_path = Path(directory) / "card.json"
    if not card_path.is_file():
        raise ValueError(f"{card_path} is missing: not a saved graphsci model directory")
    try:
        card = json.loads(card_path.read_text())
        if not isinstance(card, dict) or card.get("format") != fmt:
            raise ValueError(f"format is {card.get('format') if isinstance(card, dict) else None!r}, "
                             f"expected {fmt!r}")
        found = card.get("card_version")
        if not isinstance(found, int) or found > version:
            raise ValueError(f"card_version {found!r} is newer than this graphsci "
                             f"{graphsci.__version__} reads (up to {version}); upgrade graphsci")
        for key in ("params", "weights", "n_models"):
            if key not in card:
                raise KeyError(key)
        n = card["n_models"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_models is {n!r}, expected a whole number >= 1")
        if not isinstance(card["params"], dict) or not isinstance(card["weights"], dict):
            raise ValueError("params and weights must be JSON objects")
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{card_path} is corrupt or not a graphsci model card: {exc}") from exc
    return card


def read_members(directory: str | os.PathLike, card: dict, build: Callable[[], torch.nn.Module]) -> list:
    """The ensemble members, each made by ``build()`` and loaded from the checksummed weights."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    info = card["weights"]
    weights = Path(directory) / str(info.get("file", "model.safetensors"))
    if not weights.is_file():
        raise ValueError(f"{weights} is missing")
    digest = sha256(weights)
    if digest != info.get("sha256"):
        raise ValueError(f"{weights} does not match its checksum in card.json "
                         f"(sha256 {digest[:12]}..., expected {str(info.get('sha256'))[:12]}...)")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{weights} cannot be read: {exc}") from exc
    stored = {name.split(".", 1)[0] for name in tensors}
    expected = {f"model{k}" for k in range(card["n_models"])}
    if stored != expected:
        # a card that names fewer members than the file holds would silently drop some
        raise ValueError(f"{weights} holds the members {sorted(stored)}, its card.json names "
                         f"{card['n_models']} ({sorted(expected)})")
    members = []
    for k in range(card["n_models"]):
        model = build()
        prefix = f"model{k}."
        state = {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"{weights} does not fit the architecture in card.json: {exc}") from exc
        members.append(model.eval())
    return members


def common_card(est, metadata: dict | None) -> dict:
    """The card fields every estimator writes (read back by :func:`estimator_from_card`)."""
    # regression targets standardised while training (not every regressor does)
    scaled = getattr(est, "task", None) == "regression" and hasattr(est, "mean_")
    card = {"params": est.get_params(), "targets": est.target_names_,
            "normalisation": ({"mean": est.mean_.tolist(), "scale": est.scale_.tolist()} if scaled else None),
            "metadata": dict(metadata or getattr(est, "metadata_", None) or {})}
    history = getattr(est, "history_", None)
    if history is not None:
        # column lists, NaN as null: the card stays standard JSON
        card["history"] = {c: [None if v != v else v for v in history[c].tolist()] for c in history.columns}
    return card


def estimator_from_card(cls, card: dict, standardised: bool = False):
    """``cls(**params)`` with what every saved estimator card holds: ``target_names_``, the
    regression ``mean_``/``scale_`` (when the card has a normalisation; required of a regressor
    that is ``standardised``), ``metadata_``, the training ``history_`` (when the card has one)
    and an empty ``invalid_``. A missing or malformed field raises KeyError/TypeError/ValueError."""
    import numpy as np

    est = cls(**card["params"])
    targets = card["targets"]
    if not isinstance(targets, list) or not targets:
        raise ValueError(f"targets is {targets!r}, expected a non-empty list of names")
    est.target_names_ = list(targets)
    norm = card.get("normalisation")
    if norm:
        est.mean_ = np.asarray(norm["mean"], dtype=np.float64)
        est.scale_ = np.asarray(norm["scale"], dtype=np.float64)
        if est.mean_.shape != (len(targets),) or est.scale_.shape != (len(targets),):
            raise ValueError(f"the normalisation holds {est.mean_.size} means and {est.scale_.size} "
                             f"scales for {len(targets)} targets")
        if not (np.isfinite(est.mean_).all() and np.isfinite(est.scale_).all() and (est.scale_ > 0).all()):
            raise ValueError("the normalisation must hold finite means and positive scales")
    elif standardised and getattr(est, "task", None) == "regression":
        raise ValueError("a regression model's card needs the normalisation of its targets")
    est.metadata_ = dict(card.get("metadata") or {})
    est.invalid_ = []
    if "history" in card:
        import pandas as pd

        history = pd.DataFrame(card["history"])
        numeric = [c for c in history.columns if c not in ("member", "epoch", "best")]
        est.history_ = history.astype({c: "float64" for c in numeric})
    return est
