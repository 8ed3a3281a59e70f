"""Access to the compiled core, ``graphsci._C``, behind a feature flag.

The native kernels cover CPU tensors in float32/float64, built for several instruction sets with
the best one chosen at import. Everything else (CUDA tensors, other
dtypes, a build without the extension, or ``GRAPHSCI_NATIVE=0`` in the environment) runs the
pure-torch reference twins, so models work everywhere and the twins double as test oracles.
"""
from __future__ import annotations

import contextlib
import os
import warnings

import torch

try:  # the extension is absent only in a source checkout that was never built
    from graphsci import _C
except ImportError as exc:  # pragma: no cover - exercised only without a build
    _C = None
    IMPORT_ERROR: ImportError | None = exc
    # Usually a source checkout shadowing the installed package: say so, since everything
    # still works, only slower.
    warnings.warn(f"graphsci native kernels unavailable ({exc}); ops run on the pure-torch "
                  "reference twins", RuntimeWarning, stacklevel=2)
else:
    IMPORT_ERROR = None
    if os.environ.get("GRAPHSCI_ISA"):
        _C.set_isa(os.environ["GRAPHSCI_ISA"])

_enabled = os.environ.get("GRAPHSCI_NATIVE", "1") != "0"
NATIVE_DTYPES = (torch.float32, torch.float64)


def available() -> bool:
    """True when the compiled extension was built and imported."""
    return _C is not None


def isa() -> str | None:
    """The instruction set the kernels were dispatched to at import (``x86_64_v4`` = AVX-512,
    ``x86_64_v3`` = AVX2, ``base``); ``GRAPHSCI_ISA`` overrides the choice."""
    return _C.isa() if _C is not None else None


def enabled() -> bool:
    """True when ops dispatch CPU tensors to the native kernels."""
    return _enabled and _C is not None


def set_enabled(flag: bool) -> None:
    """Turn the native path on or off for this process (the reference twins take over)."""
    global _enabled
    _enabled = bool(flag)


@contextlib.contextmanager
def disabled():
    """Context manager that runs the enclosed ops on the pure-torch reference twins."""
    previous = _enabled
    set_enabled(False)
    try:
        yield
    finally:
        set_enabled(previous)


def covers(*tensors: torch.Tensor | None) -> bool:
    """Whether the native kernels can run on these tensors (CPU, float32/float64)."""
    if not enabled():
        return False
    return all(t is None or (t.device.type == "cpu" and t.dtype in NATIVE_DTYPES) for t in tensors)


def needs_grad(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd will record this call; inference skips the autograd.Function."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def num_threads() -> int:
    """Kernels follow torch's intra-op thread count so one setting governs both."""
    return torch.get_num_threads()
