"""The dosim side of the conformance suite: run a scenario's steps in a simulation.

Time is simulated: a step's ``at_ms``, ``delay_ms`` and ``wait`` are milliseconds of
simulated time, one for one with the real milliseconds the Node driver waits. The object is
the scenario's ``object.py`` ``Subject``, bound as ``SUBJECT`` with the namespace key
Miniflare uses (``'<workerName>-<className>'``), so ``idFromName`` gives the same hex on both
sides. The observations have the same shape as ``driver.mjs``'s (see :mod:`scenario`).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

import dosim

if __package__:
    from .scenario import Scenario
else:  # run as a script
    from scenario import Scenario  # type: ignore[no-redef]

__all__ = ['UNIQUE_KEY', 'run']

WORKER_NAME = 'conformance'
UNIQUE_KEY = f'{WORKER_NAME}-Subject'
REPLY_TIMEOUT_MS = 3000.0


def load_subject(scenario: Scenario) -> type:
    """A fresh import of ``object.py`` (its module-level counters start at zero)."""
    name = f'conformance_object_{scenario.name}'
    spec = importlib.util.spec_from_file_location(name, scenario.path / 'object.py')
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module.Subject


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error(exc: dosim.DurableObjectError) -> dict[str, Any]:
    return {'error': {'message': exc.message, 'remote': bool(exc.remote),
                      'retryable': bool(exc.retryable), 'overloaded': bool(exc.overloaded),
                      'durableObjectReset': bool(exc.durable_object_reset)}}


def _batches(steps: list[dict[str, Any]]) -> list[tuple[Any, list[int]]]:
    out: list[tuple[Any, list[int]]] = []
    for i, step in enumerate(steps):
        at = step.get('at_ms')
        if at is not None and out and out[-1][0] == at:
            out[-1][1].append(i)
        else:
            out.append((at, [i]))
    return out


def run(scenario: Scenario, sim: dosim.Simulation | None = None) -> list[Any]:
    """Run *scenario* in a fresh simulation; return one observation per step."""
    if sim is None:
        sim = dosim.Simulation(
            seed=0, config=dosim.Config(jitter_scale_ms=0.0, uniqueness_check_ms=0.0))
    ns = sim.namespace('SUBJECT', load_subject(scenario),
                       storage='sqlite' if scenario.sqlite else 'kv', unique_key=UNIQUE_KEY)
    steps = scenario.steps
    observations: list[Any] = [None] * len(steps)
    state: dict[str, Any] = {'stub': ns.get_by_name('subject'), 'sockets': {}}

    def receive(ws: dosim.WebSocket, timeout_ms: float) -> Any:
        got = ws.receive()
        got._defused = True
        timer = sim.timeout(timeout_ms)
        yield sim.env.any_of([got, timer])
        if not got.triggered:
            return {'timeout': True}
        if not got.ok:
            return {'closed': getattr(got.value, 'code', None)}
        return _decode(got.value) if isinstance(got.value, str) else got.value

    def one(i: int, step: dict[str, Any]) -> Any:
        if step.get('delay_ms'):
            yield sim.timeout(step['delay_ms'])
        op = step['op']
        if op == 'fetch':
            method = step.get('method') or ('POST' if 'body' in step else 'GET')
            try:
                resp = yield state['stub'].fetch('https://do' + step['path'], method=method,
                                                 body=step.get('body'))
            except dosim.DurableObjectError as exc:
                observations[i] = _error(exc)
            else:
                observations[i] = {'status': resp.status, 'body': _decode(resp.text)}
        elif op == 'wait':
            yield sim.timeout(step['ms'])
        elif op == 'new_stub':
            state['stub'] = ns.get_by_name('subject')
        elif op == 'id':
            observations[i] = {'id': str(ns.id_from_name(step['name']))}
        elif op == 'ws_connect':
            try:
                ws = yield from dosim.connect_websocket(state['stub'], 'https://do' + step['path'])
            except dosim.DurableObjectError as exc:
                observations[i] = _error(exc)
            else:
                state['sockets'][step.get('ws', 'ws')] = ws
                observations[i] = {'status': 101}
        elif op == 'ws_send':
            ws = state['sockets'][step.get('ws', 'ws')]
            ws.send(step['message'])
            if step.get('reply', True) is not False:
                reply = yield from receive(ws, step.get('timeout_ms', REPLY_TIMEOUT_MS))
                observations[i] = {'reply': reply}
        elif op == 'ws_close':
            state['sockets'][step.get('ws', 'ws')].close(1000, 'bye')
        else:
            raise ValueError(f'{scenario.name}: unknown op {op!r}')

    def client() -> Any:
        for at, members in _batches(steps):
            if at is not None and at > sim.now:
                yield sim.timeout(at - sim.now)
            procs = [sim.process(one(i, steps[i])) for i in members]
            yield sim.env.all_of(procs)
        for ws in state['sockets'].values():
            if not ws.closed:
                ws.close(1000, 'done')

    sim.run(until=sim.process(client()))
    return observations


if __name__ == '__main__':
    from scenario import SCENARIOS, load  # type: ignore[import-not-found]

    for arg in sys.argv[1:]:
        print(json.dumps(run(load(SCENARIOS / arg)), ensure_ascii=False, indent=1))
