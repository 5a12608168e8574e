"""What the exercise tests share: where each exercise's starter and solutions live, and how a
test gets a class to check (the starter from the notebook itself, or a class from the
solutions module) and its check's result, computed once per test session."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import dosim
import dosim.edu
from dosim.edu import CheckResult

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / 'notebooks' / 'exercises'
SOLUTIONS = ROOT / 'notebooks' / 'solutions'
NOTEBOOK = {'lost_update': '01_lost_update', 'idempotent_loop': '02_idempotent_loop',
            'timers': '03_timers', 'hibernation': '04_hibernation',
            'sharding': '05_sharding', 'fleet_bill': '06_fleet_bill'}
SOLUTION = {'lost_update': ('ex01_lost_update', 'LikeCounter'),
            'idempotent_loop': ('ex02_idempotent_loop', 'DigestAgent'),
            'timers': ('ex03_timers', 'Timers'),
            'hibernation': ('ex04_hibernation', 'ChatRoom'),
            'sharding': ('ex05_sharding', 'ViewCounter'),
            'fleet_bill': ('ex06_fleet_bill', 'ResearchAgent')}


def starter(exercise: str) -> type:
    """The starter class of *exercise*, run from its notebook: the first code cell (the
    imports) and the cell tagged ``starter``."""
    nb = json.loads((EXERCISES / f'{NOTEBOOK[exercise]}.ipynb').read_text(encoding='utf-8'))
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    tagged = [c for c in code if 'starter' in c['metadata'].get('tags', [])]
    assert len(tagged) == 1, f'{NOTEBOOK[exercise]}: exactly one cell must be tagged starter'
    names: dict[str, Any] = {}
    for cell in (code[0], tagged[0]):
        exec(''.join(cell['source']), names)   # our own notebook's cells
    classes = [v for v in names.values() if isinstance(v, type)
               and issubclass(v, dosim.DurableObject) and v.__module__ == 'builtins']
    assert len(classes) == 1, f'{NOTEBOOK[exercise]}: the starter cell defines one class'
    return classes[0]


@cache
def solutions(module: str) -> ModuleType:
    """``notebooks/solutions/<module>.py``, imported by path (it is not a package)."""
    spec = importlib.util.spec_from_file_location(module, SOLUTIONS / f'{module}.py')
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def answer(exercise: str, name: str | None = None) -> type:
    """A class from the exercise's solutions module: the solution, or a wrong answer."""
    module, solution = SOLUTION[exercise]
    return getattr(solutions(module), name or solution)


@cache
def checked(exercise: str, name: str | None = None) -> CheckResult:
    """The check of the starter (``name='starter'``), the solution (None) or a wrong answer,
    run once per test session."""
    cls = starter(exercise) if name == 'starter' else answer(exercise, name)
    return dosim.edu.check(exercise, cls)
