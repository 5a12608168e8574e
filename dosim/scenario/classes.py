"""Which Durable Object class a namespace runs: a built-in model by name, or your own class.

A scenario names a class in one of three ways:

* a built-in model by its short name -- ``counter``, ``busy``, ``agent_loop``, ``scheduler``,
  ``chat_room``, ``agent_socket``, ``messaging_agent``, ``relay`` (:data:`MODELS`);
* a built-in model by its class name -- ``ChatRoom``, ``AgentLoop`` ... -- which is also
  how a ``class_name`` of a wrangler.toml that matches one is understood;
* an import path to any :class:`~dosim.DurableObject` subclass: ``'mypkg.objects:Counter'``
  or ``'mypkg.objects.Counter'``. A module beside the scenario file is found too: the
  file's directory is put on ``sys.path`` when the import needs it.

``settings`` then make a variant of the class: models with a ``configure(**settings)``
class method (``AgentLoop``, ``ChatRoom``) are configured by it; for any other class each
setting replaces a class attribute the class already has (``MessagingAgent``'s ``binding``
or ``inbox_cpu_ms``), in a subclass, so the original class is left as it was.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..object import DurableObject
from .errors import SpecError

__all__ = ['MODELS', 'configure', 'resolve']

MODELS: dict[str, str] = {
    'counter': 'dosim.scenario.models:Counter',
    'busy': 'dosim.workload.busy:BusyObject',
    'agent_loop': 'dosim.models.agent_loop:AgentLoop',
    'scheduler': 'dosim.models.scheduler:EventScheduler',
    'chat_room': 'dosim.models.chat:ChatRoom',
    'agent_socket': 'dosim.models.agent_socket:AgentSocket',
    'messaging_agent': 'dosim.models.messaging:MessagingAgent',
    'relay': 'dosim.models.messaging:Relay',
}
"""The built-in models by short name, each an import path."""

BY_CLASS_NAME = {path.rpartition(':')[2]: path for path in MODELS.values()}
"""The built-in models by class name (``'ChatRoom'`` -> its import path)."""


def builtin(name: str) -> str | None:
    """The import path of built-in model *name* (short or class name), or None."""
    return MODELS.get(name) or BY_CLASS_NAME.get(name)


def _split(path: str) -> tuple[str, str]:
    if ':' in path:
        module, _, attr = path.partition(':')
    else:
        module, _, attr = path.rpartition('.')
    if not module or not attr or not all(p.isidentifier() for p in (*module.split('.'), attr)):
        known = ', '.join(MODELS)
        raise SpecError((), f"unknown model; give a built-in model ({known}) or an import "
                            "path 'package.module:Class'", path)
    return module, attr


def _import(module: str, base_dir: Path | None) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        beside = base_dir is not None and str(base_dir) not in sys.path
        if not beside or exc.name != module.split('.')[0]:
            raise SpecError((), f'cannot import module {module!r}: {exc}') from None
    except Exception as exc:   # the module itself raised while being imported
        raise SpecError((), f'cannot import module {module!r}: '
                            f'{type(exc).__name__}: {exc}') from None
    sys.path.insert(0, str(base_dir))
    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise SpecError((), f'cannot import module {module!r} (looked beside the scenario '
                            f'too, in {str(base_dir)!r}): {type(exc).__name__}: {exc}') from None


def resolve(name: Any, base_dir: Path | None = None) -> type[DurableObject]:
    """The class named by *name* (see the module docstring); a class is checked and kept."""
    if isinstance(name, type):
        cls: Any = name
    elif not isinstance(name, str) or not name:
        raise SpecError((), 'a model name or an import path (a string)', name)
    else:
        module, attr = _split(builtin(name) or name)
        cls = getattr(_import(module, base_dir), attr, None)
        if cls is None:
            raise SpecError((), f'module {module!r} has no attribute {attr!r}', name)
    if not (isinstance(cls, type) and issubclass(cls, DurableObject)):
        raise SpecError((), 'not a dosim.DurableObject subclass', name)
    return cls


def configure(cls: type[DurableObject], settings: Mapping[str, Any]) -> type[DurableObject]:
    """A variant of *cls* with *settings* (see the module docstring); errors name the
    setting."""
    if not settings:
        return cls
    configure_method = getattr(cls, 'configure', None)
    if configure_method is not None:
        try:
            return configure_method(**settings)
        except (TypeError, ValueError) as exc:
            text = str(exc)
            named = re.search(r"setting '(\w+)'|\.(\w+) must", text)
            field = next((g for g in named.groups() if g), None) if named else None
            where = (field,) if field in settings else ()
            raise SpecError(where, text, settings[field] if where else settings) from None
    public = _settings_of(cls)
    for name in settings:
        if name not in public:
            raise SpecError((name,), f'{cls.__name__} has no setting {name!r}; '
                                     f'its settings: {", ".join(public) or "none"}',
                            settings[name])
    return type(cls.__name__, (cls,), dict(settings))


def _settings_of(cls: type) -> list[str]:
    """The public, non-callable class attributes *cls* defines below DurableObject."""
    names = {n for klass in cls.__mro__ if issubclass(klass, DurableObject)
             and klass is not DurableObject for n in vars(klass)}
    return sorted(n for n in names if not n.startswith('_') and not callable(getattr(cls, n))
                  and not isinstance(getattr(cls, n), (property, classmethod, staticmethod)))
