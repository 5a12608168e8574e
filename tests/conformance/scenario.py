"""A conformance scenario on disk, and the rules for comparing its two results.

Each scenario is a directory ``scenarios/<name>/`` holding:

``object.js``
    an ES module exporting the Durable Object class ``Subject`` (run by workerd);
``object.py``
    the same object as a ``dosim.DurableObject`` subclass named ``Subject``;
``steps.json``
    what a client does to the one object named ``'subject'``, as a list of steps:

    * ``{"op": "fetch", "path": "/inc", "method": "POST", "body": "..."}`` -- a request;
      consecutive steps with the same ``at_ms`` start together at ``at_ms`` after the
      scenario's start (each after its own ``delay_ms``, if any) and are all awaited before
      the next step; a step without ``at_ms`` starts when the previous one is done;
    * ``{"op": "wait", "ms": 2500}`` -- let time pass (real in workerd, simulated in dosim);
    * ``{"op": "new_stub"}`` -- later fetches use a new stub (the old one may be broken);
    * ``{"op": "id", "name": "x"}`` -- observe ``idFromName(name)`` as hex;
    * ``{"op": "ws_connect", "path": "/ws", "ws": "a"}``, ``{"op": "ws_send", "ws": "a",
      "message": "hi"}`` (observes the next message received, or ``{"timeout": true}``),
      ``{"op": "ws_close", "ws": "a"}`` -- a WebSocket client;
``expect.json`` (optional)
    ``sqlite`` (default true; false gives a KV-backed namespace), and the comparison rules
    below.

Both drivers observe one value per step, in step order: a fetch gives ``{"status", "body"}``
(the body decoded from JSON when it is JSON) or ``{"error": {"message", "remote",
"retryable", "overloaded", "durableObjectReset"}}``; ``wait`` and ``new_stub`` give ``null``.

Comparison: everything must be equal, except at *paths* named in ``expect.json``. A path is
dotted, starts at the step index and may use ``*`` for any key or index (``"3.body.gaps.*"``):

* ``ranges``: ``{path: [lo, hi]}`` -- a timing: each side's number must lie in ``[lo, hi]``
  (alarm delivery, retry backoff with its 0-25 % jitter, local scheduling slack);
* ``ignore``: ``[path, ...]`` -- not compared, because local workerd differs from production
  by design; then ``production_differs`` must give the reason and its source;
* ``workerd`` / ``dosim``: ``{path: value}`` -- what each side must show at an ignored path
  (the local behaviour, and the production behaviour dosim keeps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

__all__ = ['SCENARIOS', 'Scenario', 'compare', 'load_all']

SCENARIOS = Path(__file__).resolve().parent / 'scenarios'


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    steps: list[dict[str, Any]]
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def sqlite(self) -> bool:
        return bool(self.expect.get('sqlite', True))

    @property
    def production_differs(self) -> str | None:
        return self.expect.get('production_differs')

    @property
    def summary(self) -> str:
        """The leading comment of ``object.js``: what the scenario shows."""
        lines = []
        for line in (self.path / 'object.js').read_text().splitlines():
            if not line.startswith('//'):
                break
            lines.append(line.lstrip('/ ').strip())
        return ' '.join(lines)


def load(path: Path) -> Scenario:
    expect_file = path / 'expect.json'
    expect = json.loads(expect_file.read_text()) if expect_file.is_file() else {}
    steps = json.loads((path / 'steps.json').read_text())
    return Scenario(path.name, path, steps, expect)


def load_all(root: Path = SCENARIOS) -> list[Scenario]:
    return [load(p) for p in sorted(root.iterdir()) if (p / 'steps.json').is_file()]


def _flatten(value: Any, prefix: str = '') -> dict[str, Any]:
    """Leaves by dotted path; empty containers are leaves too."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f'{prefix}{i}.'))
        return out
    return {prefix[:-1]: value}


def _match(path: str, patterns: Any) -> Any:
    for pattern in patterns:
        if fnmatchcase(path, pattern) and path.count('.') == pattern.count('.'):
            return pattern
    return None


def compare(scenario: Scenario, workerd: list[Any], dosim: list[Any]) -> list[str]:
    """Every difference that counts, as readable lines (empty: the scenario passes)."""
    rules = scenario.expect
    ranges: dict[str, list[float]] = rules.get('ranges', {})
    ignore: list[str] = rules.get('ignore', [])
    problems: list[str] = []
    workerd, dosim = list(workerd), list(dosim)
    for i, (a, b) in enumerate(zip(workerd, dosim, strict=False)):
        if isinstance(a, dict) and isinstance(b, dict) and ('error' in a) != ('error' in b):
            # one side failed, the other answered: one line, not one per leaf
            problems.append(f'{i}: workerd {_short(a)} != dosim {_short(b)}')
            workerd[i] = dosim[i] = None
    w, d = _flatten(workerd), _flatten(dosim)
    for path in sorted(set(w) | set(d), key=_natural):
        a, b = w.get(path, '<absent>'), d.get(path, '<absent>')
        if _match(path, ignore):
            continue
        bounds = ranges.get(_match(path, ranges) or '')
        if bounds is not None:
            lo, hi = bounds
            for side, v in (('workerd', a), ('dosim', b)):
                if not isinstance(v, (int, float)) or not lo <= v <= hi:
                    problems.append(f'{path}: {side} gave {v!r}, outside [{lo}, {hi}]')
            continue
        if a != b:
            problems.append(f'{path}: workerd {_short(a)} != dosim {_short(b)}')
    for side, got in (('workerd', w), ('dosim', d)):
        for path, want in rules.get(side, {}).items():
            have = _flatten(want, f'{path}.') if isinstance(want, (dict, list)) and want else {
                path: want}
            for p, v in have.items():
                if got.get(p, '<absent>') != v:
                    problems.append(f'{p}: {side} gave {_short(got.get(p, "<absent>"))}, '
                                    f'expected {_short(v)}')
    return problems


def _natural(path: str) -> list[Any]:
    return [(0, int(p), '') if p.isdigit() else (1, 0, p) for p in path.split('.')]


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + '...'
