"""Lazy package namespaces (PEP 562): a package lists which submodule defines each public name,
and the submodule is imported the first time one of its names is read. Keeps ``import graphsci.x``
cheap for callers that need only part of it (a featurisation worker, the command line)."""
from __future__ import annotations

import sys
from importlib import import_module


def lazy_exports(package: str, where: dict[str, list[str]]):
    """``(__getattr__, __dir__, __all__)`` for ``package`` from ``{submodule: [names]}``; a
    name equal to the submodule's own last component exports the submodule itself."""
    lazy = {name: module for module, names in where.items() for name in names}

    def __getattr__(name):
        if name not in lazy:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(lazy[name])
        value = module if lazy[name].rsplit(".", 1)[-1] == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(lazy))

    return __getattr__, __dir__, sorted(lazy)
