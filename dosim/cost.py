"""What a run would cost a month: Cloudflare's prices applied to the billing meters.

Cloudflare bills Durable Objects by meter (``data/pricing.yaml``, with a source for every
number; ``do-semantics.md`` §7):

* **requests** -- HTTP requests, RPC calls, alarm invocations, WebSocket connections, and
  incoming WebSocket messages at 20 to 1 (``sim.meters['billed_requests']``);
* **duration** -- GB-s: wall time in memory while active or unable to hibernate, always at
  128 MB (``duration_gb_s``);
* **storage** -- rows read and written (SQLite backend), 4 KB read and write units and delete
  requests (key-value backend), and stored GB-months (not metered by dosim: pass them in).

On **Workers Paid** each meter has a monthly allowance; what goes beyond it costs its price,
and the plan's $5 monthly minimum is added to that, as in every example on Cloudflare's
pricing page. On **Workers Free** nothing is charged, but each meter has a *daily* limit
beyond which further operations of that type fail until 00:00 UTC -- so the free rows say
whether, and by how much, a workload goes over.

:func:`price` prices a month of usage; :func:`estimate` first extrapolates a run to a month
(:func:`extrapolate`). A run of ``simulated_ms`` is taken as a sample of a steady state:
each meter's amount is multiplied by ``month / simulated_ms``. Some usage is not a rate,
though. The WebSocket connections of a room whose clients stay all month are made *once*:
scaling the 200 connects of a 10-minute run by 4,320 would bill 864,000 connections instead
of 200. Pass such one-time amounts, in the run's own units, as ``once={'requests': 200}``
(:func:`websocket_connects` counts the connections a run made); they are counted once, not
per unit of time. Connections made again and again (clients that leave and come back) are a
rate: leave them in. ``scale`` then multiplies everything, for a run that simulates part of
a fleet (2 rooms standing for 100: ``scale=50``). Money is kept unrounded; only
:func:`summary` rounds it to cents, for display.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

__all__ = [
    'COLUMNS', 'METERS', 'PLANS', 'Pricing', 'estimate', 'extrapolate', 'load_pricing',
    'price', 'summary', 'totals', 'websocket_connects',
]

# data/pricing.yaml is the table; dosim/_data/pricing.yaml links to it so that a built wheel
# carries a copy (setuptools follows the link).
DEFAULT_PATH = Path(__file__).resolve().parent / '_data' / 'pricing.yaml'
PLANS = ('free', 'paid')
METERS = (
    'billed_requests', 'duration_gb_s', 'rows_read', 'rows_written', 'sqlite_stored_gb',
    'read_units', 'write_units', 'delete_requests', 'kv_stored_gb',
)
"""The priced meters, in the order of the bill."""
RUN_METERS = (
    'requests', 'cpu_ms', 'rows_read', 'rows_written', 'read_units', 'write_units',
    'delete_requests', 'ws_messages_in', 'duration_gb_s',
)
"""The columns of ``sim.meters`` that :func:`extrapolate` reads."""
COLUMNS = [
    'plan', 'meter', 'unit', 'usage', 'included', 'billable', 'unit_price', 'cost',
    'over_limit', 'note',
]
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Pricing:
    """The numbers of ``pricing.yaml``: per plan and meter, ``(unit, included, usd, per)``
    for Paid and ``(unit, limit, per_day)`` for Free."""

    as_of: str
    messages_per_request: float
    minimum: Mapping[str, float]
    paid: Mapping[str, tuple[str, float, float, float]]
    free: Mapping[str, tuple[str, float, bool]]


def _get(data: Any, path: str, where: str) -> Any:
    node = data
    for part in path.split('.'):
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f'{where}: missing {path!r}')
        node = node[part]
    return node


def _amount(data: Any, path: str, where: str) -> float:
    value = _get(data, path, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 <= value < math.inf:
        raise ValueError(f'{where}: {path} must be a number >= 0, got {value!r}')
    return float(value)


def load_pricing(path: str | Path | None = None) -> Pricing:
    """Read a pricing file (default: the repository's ``data/pricing.yaml``); a missing or
    bad number raises a :class:`ValueError` naming the file and the field."""
    if path is None:
        return _default_pricing()
    return _read(Path(path))


@functools.cache
def _default_pricing() -> Pricing:
    return _read(DEFAULT_PATH)


def _read(path: Path) -> Pricing:
    where = str(path)
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    paid: dict[str, tuple[str, float, float, float]] = {}
    free: dict[str, tuple[str, float, bool]] = {}
    for meter in METERS:
        p, q = f'plans.paid.meters.{meter}', f'plans.free.meters.{meter}'
        per = _amount(data, f'{p}.per', where)
        if per <= 0:
            raise ValueError(f'{where}: {p}.per must be > 0, got {per!r}')
        paid[meter] = (str(_get(data, f'{p}.unit', where)), _amount(data, f'{p}.included', where),
                       _amount(data, f'{p}.usd', where), per)
        per_day = _get(data, f'{q}.per_day', where)
        if not isinstance(per_day, bool):
            raise ValueError(f'{where}: {q}.per_day must be true or false, got {per_day!r}')
        free[meter] = (str(_get(data, f'{q}.unit', where)), _amount(data, f'{q}.limit', where),
                       per_day)
    ratio = _amount(data, 'billing.websocket_messages_per_request.value', where)
    if ratio <= 0:
        raise ValueError(f'{where}: billing.websocket_messages_per_request.value must be > 0')
    minimum = {plan: _amount(data, f'plans.{plan}.minimum_usd_per_month.value', where)
               for plan in PLANS}
    return Pricing(str(_get(data, 'as_of', where)), ratio, minimum, paid, free)


# -- pricing a month -------------------------------------------------------------------------
def _monthly_usage(usage: Mapping[str, Any], pricing: Pricing) -> dict[str, float]:
    """Every priced meter's amount; billed_requests from requests and messages if absent."""
    if not isinstance(usage, Mapping):
        raise TypeError(f'price(usage): a mapping from meter to amount, got {usage!r}')
    accepted = (*METERS, 'requests', 'ws_messages_in', 'cpu_ms')
    for meter, amount in usage.items():
        if meter not in accepted:
            raise ValueError(f'price(usage): unknown meter {meter!r}; '
                             f'meters: {", ".join(accepted)}')
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) \
                or not 0 <= amount < math.inf:
            raise ValueError(f'price(usage): {meter} must be a number >= 0, got {amount!r}')
    out = {m: float(usage.get(m, 0.0)) for m in METERS}
    if 'billed_requests' not in usage:
        out['billed_requests'] = float(usage.get('requests', 0.0)) + \
            float(usage.get('ws_messages_in', 0.0)) / pricing.messages_per_request
    return out


def price(usage: Mapping[str, float], month_days: float = 30, pricing: Pricing | None = None,
          whole_millions: bool = False) -> pd.DataFrame:
    """Price a month of *usage* on both plans: a tidy frame with one row per plan and meter
    and one ``minimum`` row per plan; columns :data:`COLUMNS`.

    *usage* maps meters (:data:`METERS`) to monthly amounts; ``billed_requests`` may be given
    as ``requests`` and ``ws_messages_in`` instead (messages count 1/20), and ``cpu_ms`` is
    accepted and not priced (a Durable Object is billed for duration, not CPU). Paid:
    ``billable = max(0, usage - included)`` and ``cost = billable x unit_price``;
    *whole_millions* rounds each billable amount priced per million up to whole millions, as
    the worked examples on the current pricing page do. Free: ``included`` is the daily
    limit x *month_days*, ``billable`` the amount that would fail, ``cost`` 0."""
    pricing = load_pricing() if pricing is None else pricing
    if isinstance(month_days, bool) or not isinstance(month_days, (int, float)) \
            or not 0 < month_days < math.inf:
        raise ValueError(f'price(month_days): a number of days > 0, got {month_days!r}')
    amounts = _monthly_usage(usage, pricing)
    rows = [_paid_row(m, amounts[m], pricing, whole_millions) for m in METERS]
    rows.append(_minimum_row('paid', pricing))
    rows += [_free_row(m, amounts[m], pricing, month_days) for m in METERS]
    rows.append(_minimum_row('free', pricing))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame['plan'] = pd.Categorical(frame['plan'], categories=list(PLANS))
    return frame.sort_values('plan', kind='stable').reset_index(drop=True)


def _paid_row(meter: str, usage: float, pricing: Pricing, whole_millions: bool) -> tuple:
    unit, included, usd, per = pricing.paid[meter]
    billable = max(0.0, usage - included)
    if whole_millions and per == 1_000_000:
        billable = math.ceil(billable / per) * per
    return ('paid', meter, unit, usage, included, billable, usd / per, billable * usd / per,
            False, '')


def _free_row(meter: str, usage: float, pricing: Pricing, month_days: float) -> tuple:
    unit, limit, per_day = pricing.free[meter]
    included = limit * month_days if per_day else limit
    over = usage > included
    note = ''
    if over and limit == 0:
        note = 'the key-value storage backend is not available on Workers Free'
    elif over:
        per = f'{limit:,.0f} / day' if per_day else f'{limit:,.0f} in total'
        note = (f'over the limit of {per} ({usage / month_days if per_day else usage:,.0f} '
                f'{"a day" if per_day else "used"}): operations fail until 00:00 UTC')
    return ('free', meter, unit, usage, included, max(0.0, usage - included), 0.0, 0.0, over,
            note)


def _minimum_row(plan: str, pricing: Pricing) -> tuple:
    fee = pricing.minimum[plan]
    return (plan, 'minimum', 'month', 1.0, 0.0, 1.0, fee, fee, False, '')


def totals(frame: pd.DataFrame) -> pd.Series:
    """The monthly bill of each plan in USD (unrounded), from a :func:`price` frame."""
    return frame.groupby('plan', observed=False)['cost'].sum()


def summary(frame: pd.DataFrame, plan: str = 'paid') -> pd.DataFrame:
    """A bill for reading: the meters of *plan* with usage or cost, the minimum and the
    total, money rounded to cents (the only place it is rounded)."""
    if plan not in PLANS:
        raise ValueError(f'summary(plan): one of {PLANS}, got {plan!r}')
    part = frame[frame['plan'] == plan]
    part = part[(part['usage'] > 0) | (part['cost'] > 0)]
    out = pd.DataFrame({
        'meter': part['meter'], 'usage': part['usage'].map(_quantity), 'unit': part['unit'],
        'included': part['included'].map(_quantity),
        'billable': part['billable'].map(_quantity),
        'cost': part['cost'].map(_usd), 'note': part['note'],
    })
    total = {'meter': 'total', 'usage': '', 'unit': '', 'included': '', 'billable': '',
             'cost': _usd(float(part['cost'].sum())),
             'note': 'over a Free limit' if part['over_limit'].any() else ''}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def _usd(amount: float) -> str:
    return f'${amount:,.2f}'


def _quantity(amount: float) -> str:
    return f'{amount:,.0f}' if abs(amount) >= 100 or float(amount).is_integer() \
        else f'{amount:,.4g}'


# -- from a run to a month -------------------------------------------------------------------
def _meters_of(sim_or_meters: Any) -> pd.DataFrame:
    frame = getattr(sim_or_meters, 'meters', sim_or_meters)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f'a Simulation or its sim.meters frame, got {sim_or_meters!r}')
    missing = [c for c in RUN_METERS if c not in frame.columns]
    if missing:
        raise ValueError(f'the meters frame lacks the columns {missing}')
    return frame


def extrapolate(sim_or_meters: Any, simulated_ms: float, month_days: float = 30,
                scale: float = 1.0, once: Mapping[str, float] | None = None,
                namespace: str | None = None, pricing: Pricing | None = None
                ) -> dict[str, float]:
    """A month of usage from a run's meters (see the module docstring): each meter's total
    (of *namespace*, or of all) minus its *once* part, times ``month / simulated_ms``, plus
    the *once* part, all times *scale*; and ``billed_requests`` from requests and messages."""
    pricing = load_pricing() if pricing is None else pricing
    meters = _meters_of(sim_or_meters)
    for name, value in (('simulated_ms', simulated_ms), ('month_days', month_days),
                        ('scale', scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 < value < math.inf:
            raise ValueError(f'extrapolate({name}): a number > 0, got {value!r}')
    if namespace is not None:
        if namespace not in set(meters['namespace']):
            raise ValueError(f'extrapolate(namespace): no meters for {namespace!r}')
        meters = meters[meters['namespace'] == namespace]
    total = meters[list(RUN_METERS)].sum()
    once = _check_once(once, total)
    factor = month_days * DAY_MS / simulated_ms
    month = {m: ((float(total[m]) - once.get(m, 0.0)) * factor + once.get(m, 0.0)) * scale
             for m in RUN_METERS}
    month['billed_requests'] = month['requests'] + \
        month['ws_messages_in'] / pricing.messages_per_request
    return month


def _check_once(once: Mapping[str, float] | None, total: pd.Series) -> dict[str, float]:
    if once is None:
        return {}
    if not isinstance(once, Mapping):
        raise TypeError(f'once: a mapping from meter to amount, got {once!r}')
    for meter, amount in once.items():
        if meter not in RUN_METERS:
            raise ValueError(f'once: unknown meter {meter!r}; meters: {", ".join(RUN_METERS)}')
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) \
                or not 0 <= amount <= total[meter]:
            raise ValueError(f'once[{meter!r}] must be a number between 0 and the run\'s '
                             f'{total[meter]:g}, got {amount!r}')
    return {m: float(a) for m, a in once.items()}


def estimate(sim_or_meters: Any, simulated_ms: float, month_days: float = 30,
             scale: float = 1.0, once: Mapping[str, float] | None = None,
             namespace: str | None = None, pricing: Pricing | None = None,
             whole_millions: bool = False) -> pd.DataFrame:
    """The monthly bill of a run on both plans: :func:`price` of :func:`extrapolate`."""
    pricing = load_pricing() if pricing is None else pricing
    usage = extrapolate(sim_or_meters, simulated_ms, month_days, scale, once, namespace,
                        pricing)
    return price(usage, month_days, pricing, whole_millions)


def websocket_connects(sim: Any, namespace: str | None = None) -> int:
    """How many WebSocket connections the run opened (answers with status 101, from
    ``sim.trace.requests``): the usual ``once={'requests': ...}`` of :func:`estimate`."""
    if getattr(sim.trace, 'keep_requests', True) is False:
        raise ValueError("websocket_connects: the trace keeps no requests at trace_level "
                         "'summary'; count the connections yourself")
    requests = sim.trace.requests
    hits = requests['http_status'] == 101
    if namespace is not None:
        hits &= requests['namespace'] == namespace
    return int(hits.sum())
