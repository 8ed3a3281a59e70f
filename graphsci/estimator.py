"""The scikit-learn estimator protocol (``get_params``/``set_params``, tags, repr) without
importing scikit-learn: ``import sklearn.base`` pulls in scipy.stats and costs about a second,
which the command line would pay on every ``graphsci predict``. scikit-learn's own utilities
(``clone``, ``cross_val_score``, pipelines) work on these estimators as on its own; the tags
are built by scikit-learn, imported only when one of its utilities asks for them."""
from __future__ import annotations

import inspect


class Estimator:
    """Base class: parameters are the arguments of ``__init__``, stored under the same names;
    learned state carries a trailing underscore."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind not in skip)

    def get_params(self, deep: bool = True) -> dict:
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params):
        valid = self._get_param_names()
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters: {', '.join(valid)}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=True), transformer_tags=None,
                    regressor_tags=None, classifier_tags=None)

    def __repr__(self) -> str:
        # Like scikit-learn: only the parameters that differ from their defaults.
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or bool(value == default)
            except Exception:       # arrays and the like: shown
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"
