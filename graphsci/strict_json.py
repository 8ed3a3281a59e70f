"""JSON that every reader takes: Python writes NaN and Infinity, which are not JSON (jq, JavaScript
and most JSON libraries reject them), so an undefined metric is written as null."""
from __future__ import annotations

import json
import math


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(value, indent: int | None = 2) -> str:
    return json.dumps(_finite(value), indent=indent, allow_nan=False)
