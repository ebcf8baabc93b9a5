"""One small registry per kind of object, so strings, configs and objects all resolve alike.

``compile(optimizer="adam", loss="mse", metrics=["accuracy"])`` and
``compile(optimizer=Adam(1e-3), loss=MeanSquaredError())`` both go through
:meth:`Registry.get`; saving goes through :meth:`Registry.serialize` and loading through
``get({"class_name": ..., "config": ...})``. Loading only ever instantiates classes that were
registered here by name, never anything named by the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def _key(name: str) -> str:
    """Lookup key: case and underscores do not matter (``"MaxPool2D"`` == ``"max_pool2d"``)."""
    return re.sub(r"[_\s-]", "", name).lower()


class Registry:
    """Names -> classes (or functions) of one kind: layers, losses, metrics, optimizers...

    Args:
        kind: what the registry holds, used in error messages ("loss", "optimizer", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._by_key: dict[str, Any] = {}
        self._canonical: dict[Any, str] = {}

    def register(self, *aliases: str) -> Callable[[Any], Any]:
        """Class decorator: register under the class name and every alias."""

        def deco(obj: Any) -> Any:
            name = obj.__name__
            self._canonical[obj] = name
            for n in (name, *aliases):
                key = _key(n)
                if key in self._by_key and self._by_key[key] is not obj:
                    raise ValueError(f"{self.kind} name {n!r} is already registered")
                self._by_key[key] = obj
            return obj

        return deco

    def lookup(self, name: str) -> Any:
        """The class or function registered as ``name``; ValueError listing the known names."""
        try:
            return self._by_key[_key(name)]
        except KeyError:
            known = ", ".join(sorted(self._canonical.values()))
            raise ValueError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._canonical.values())

    def get(self, identifier: Any, **defaults: Any) -> Any:
        """Resolve ``identifier`` to an object.

        * a string: the registered class instantiated with ``defaults`` (a registered function
          is returned as is);
        * a dict ``{"class_name": ..., "config": {...}}``: ``cls.from_config(config)``;
        * a registered class: instantiated with ``defaults``;
        * anything else (an instance, a callable): returned unchanged.
        """
        if isinstance(identifier, str):
            obj = self.lookup(identifier)
            return obj(**defaults) if isinstance(obj, type) else obj
        if isinstance(identifier, dict):
            if set(identifier) - {"class_name", "config"} or "class_name" not in identifier:
                raise ValueError(f"a serialized {self.kind} needs 'class_name' and 'config', got {sorted(identifier)}")
            cls = self.lookup(str(identifier["class_name"]))
            config = identifier.get("config") or {}
            if not isinstance(config, dict):
                raise ValueError(f"config of {self.kind} {identifier['class_name']!r} must be a dict")
            if not isinstance(cls, type):
                return cls
            return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        if isinstance(identifier, type) and identifier in self._canonical:
            return identifier(**defaults)
        if identifier is None:
            raise ValueError(f"a {self.kind} is required, got None")
        return identifier

    def serialize(self, obj: Any) -> dict[str, Any] | str:
        """``{"class_name", "config"}`` for a registered object, its name for a registered function.

        Raises ValueError for an object that was never registered (it could not be loaded back).
        """
        if obj in self._canonical.keys() and not isinstance(obj, type):  # a function
            return self._canonical[obj]
        cls = type(obj)
        if cls not in self._canonical:
            raise ValueError(
                f"{self.kind} {obj!r} is not registered, so it cannot be saved; register its class "
                f"with smearnet.nn.registry.{self.kind.upper()}S.register()")
        return {"class_name": self._canonical[cls], "config": obj.get_config()}


LAYERS = Registry("layer")
LOSSES = Registry("loss")
METRICS = Registry("metric")
OPTIMIZERS = Registry("optimizer")
SCHEDULES = Registry("schedule")
ACTIVATIONS = Registry("activation")
INITIALIZERS = Registry("initializer")
CALLBACKS = Registry("callback")
