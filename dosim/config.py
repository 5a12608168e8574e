"""Every constant of the runtime model, with its default and where the default comes from.

A :class:`Config` is plain, frozen data. Each field carries three pieces of metadata: its
*unit*, its *source* (a key of ``../shared/reference/do-semantics.md``: DOC, SRC, CL; or
``workerd`` for behaviour observed in the real runtime; or ``assumption`` where Cloudflare
publishes nothing) and a one-line *note*. ``python -m dosim.config`` prints them as the table
kept in ``data/config.md`` (a test checks that the table is up to date).

Make a variant with :meth:`Config.replace`, or load one from YAML with :meth:`Config.from_yaml`.
Unknown fields and bad values are rejected with an error that names the field and the value.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ['Config']

START_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch milliseconds


def _c(default: Any, unit: str, source: str, note: str) -> Any:
    return field(default=default, metadata={'unit': unit, 'source': source, 'note': note})


@dataclass(frozen=True)
class Config:
    """The runtime model's constants. See the module docstring."""

    # -- clock ---------------------------------------------------------------------------
    start_epoch_ms: int = _c(
        START_2026, 'epoch ms', 'design.md §2', 'wall clock at simulated time 0 (2026-01-01T00:00Z)'
    )
    # -- storage ---------------------------------------------------------------------------
    read_miss_ms_sqlite: float = _c(
        0.1, 'ms', 'assumption',
        'a get/list not served from the in-memory cache reads the local SQLite file',
    )
    read_miss_ms_kv: float = _c(
        1.0, 'ms', 'assumption',
        'a cache miss on the legacy KV backend asks a storage server in the same data centre',
    )
    write_confirm_ms_sqlite: float = _c(
        4.0, 'ms', 'assumption (DOC blog: WAL confirmed by 3 of 5 nearby followers)',
        'time from a write batch closing to its confirmation; the output gate waits for it',
    )
    write_confirm_ms_kv: float = _c(
        8.0, 'ms', 'assumption (gaps: KV-backend confirmation latency unpublished)',
        'time from a write batch closing to its confirmation on the legacy KV backend',
    )
    write_failure_rate: float = _c(
        0.0, 'probability', 'assumption (fault knob)',
        'chance that a write batch fails to confirm; the object then resets (DOC partial)',
    )
    max_keys_per_call: int = _c(128, 'keys', 'DOC api-async-kv-legacy', 'get/put/delete batches')
    kv_max_key_bytes: int = _c(2048, 'bytes', 'DOC limits.mdx', 'KV-backed key size limit')
    kv_max_value_bytes: int = _c(
        131_072, 'bytes', 'DOC limits.mdx',
        'KV-backed value limit (V8-serialized size), as advertised'
    )
    kv_value_allowance_bytes: int = _c(
        34, 'bytes', 'SRC workerd actor-storage.c++ (ENFORCED = ADVERTISED + 34)',
        'values are refused only past kv_max_value_bytes + this (serialisation overhead)',
    )
    sqlite_max_row_bytes: int = _c(
        2_200_000, 'bytes', 'workerd (data/workerd_observations.md §2; DOC says 2 MB)',
        'SQLite-backed: key bytes + serialized value + row overhead must not exceed this',
    )
    sqlite_row_overhead_bytes: int = _c(
        6, 'bytes', 'workerd (data/workerd_observations.md §2)',
        'SQLite record header counted against sqlite_max_row_bytes',
    )
    billing_unit_bytes: int = _c(
        4096, 'bytes', 'DOC pricing partial', 'KV-backed read/write request unit size'
    )
    # -- execution -------------------------------------------------------------------------
    cpu_limit_ms: float = _c(
        30_000.0, 'ms', 'DOC limits.mdx', 'CPU per invocation; past it the object is reset'
    )
    block_concurrency_timeout_ms: float = _c(
        30_000.0, 'ms', 'DOC state.mdx', 'blockConcurrencyWhile callback limit; past it, reset'
    )
    constructor_cpu_ms: float = _c(
        0.0, 'ms', 'assumption', 'CPU time of running the constructor (cold-start cost)'
    )
    reset_on_uncaught_exception: bool = _c(
        False, 'flag', 'workerd (data/workerd_observations.md §7)',
        'whether an uncaught exception in a handler also resets the object',
    )
    # -- alarms ----------------------------------------------------------------------------
    alarm_delivery_min_ms: float = _c(
        1.0, 'ms', 'assumption (DOC api-storage-alarms: usually within a few ms)',
        'an alarm starts this much after its time, at the least (uniform draw)',
    )
    alarm_delivery_max_ms: float = _c(
        5.0, 'ms', 'assumption (DOC api-storage-alarms: usually within a few ms)',
        'an alarm starts this much after its time, at the most (uniform draw)',
    )
    alarm_wall_limit_ms: float = _c(
        900_000.0, 'ms', 'DOC wall-time-limits partial', 'an alarm handler may run 15 min'
    )
    delete_all_deletes_alarm: bool = _c(
        True, 'flag', 'DOC api-storage-other-methods; workerd (compat >= 2026-02-24)',
        'delete_all() also deletes the alarm; false gives the older behaviour',
    )
    # -- lifecycle and hibernation -------------------------------------------------------------
    hibernate_after_ms: float = _c(
        10_000.0, 'ms', 'DOC lifecycle', 'an idle object that can hibernate does so after this'
    )
    evict_after_min_ms: float = _c(
        70_000.0, 'ms', 'DOC lifecycle (70-140 s)', 'an idle object that cannot hibernate is '
        'evicted after a uniform draw between this...'
    )
    evict_after_max_ms: float = _c(140_000.0, 'ms', 'DOC lifecycle (70-140 s)', '...and this')
    pending_io_pins: bool = _c(
        True, 'flag', 'CL 2026-10-01 (UNCERTAIN: CL 2026-06-19 says fetch never pins)',
        'pending outbound calls keep an idle object in memory (up to 15 min each)',
    )
    bill_hibernatable_idle: bool = _c(
        False, 'flag', 'DOC do-faq-pricing (newer); the older wording bills the 10 s window',
        'bill duration while idle but hibernatable, before hibernating',
    )
    # -- WebSockets --------------------------------------------------------------------------
    ws_attachment_max_bytes: int = _c(
        16_384, 'bytes', 'DOC best-practices/websockets (older docs: 2,048)',
        'serialize_attachment() limit',
    )
    ws_max_tags: int = _c(10, 'tags', 'DOC state.mdx; SRC MAX_TAGS_PER_CONNECTION', 'per socket')
    ws_max_tag_chars: int = _c(256, 'characters', 'DOC state.mdx; SRC MAX_TAG_LENGTH', 'per tag')
    ws_max_sockets: int = _c(
        32_768, 'sockets', 'DOC state.mdx', 'hibernatable WebSockets per object'
    )
    ws_max_message_bytes: int = _c(
        33_554_432, 'bytes', 'DOC limits.mdx (32 MiB)', 'largest message an object receives'
    )
    deploy_grace_ms: float = _c(
        30_000.0, 'ms', 'DOC lifecycle; workers limits (30 s grace on shutdown)',
        'after a deploy, events already running may finish on the old instance this long',
    )
    # -- overload --------------------------------------------------------------------------
    overload_max_queued: int = _c(
        1000, 'requests', 'assumption (gaps: thresholds unpublished)',
        'queued, not yet started requests per object before new ones are refused',
    )
    overload_max_queue_time_ms: float = _c(
        10_000.0, 'ms', 'assumption (DOC troubleshooting names a 10 s window)',
        'a new request is refused while the oldest queued one has waited longer than this',
    )
    # -- network and placement (data/network.md) ----------------------------------------------
    client_location: str = _c(
        'IAD', 'IATA code', 'assumption', 'where clients are, unless their stub says otherwise'
    )
    fibre_km_per_ms: float = _c(
        200.0, 'km/ms', 'physics: light in fibre travels at about 2/3 c',
        'signal speed along a fibre route',
    )
    route_inflation: float = _c(
        1.5, 'factor', 'assumption (path measurements commonly find 1.5-2x)',
        'fibre routes are longer than the great circle by this factor',
    )
    hop_base_ms: float = _c(
        1.0, 'ms', 'assumption (DOC: no latency figures published)',
        'fixed cost of one message, even within one data centre',
    )
    jitter_scale_ms: float = _c(
        0.1, 'ms', 'assumption', 'Pareto jitter per message: scale x (paretovariate(shape) - 1)'
    )
    jitter_shape: float = _c(
        3.0, 'shape', 'assumption', 'Pareto tail index of the jitter (smaller: heavier tail)'
    )
    uniqueness_check_ms: float = _c(
        200.0, 'ms', 'DOC api/namespace.mdx (up to a few hundred ms)',
        'first call to a name-derived id: the worldwide uniqueness check, once per name',
    )
    # -- billing ---------------------------------------------------------------------------
    billed_memory_mb: int = _c(128, 'MB', 'DOC pricing partial', 'duration is billed at 128 MB')
    # -- trace -----------------------------------------------------------------------------
    trace_level: str = _c(
        'full', 'level', 'dosim', "'full' records every event; 'requests' only requests"
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check_field(f.name, f.type, value)
        if self.jitter_shape <= 0:
            raise ValueError(f'Config.jitter_shape must be > 0, got {self.jitter_shape!r}')
        if self.evict_after_min_ms > self.evict_after_max_ms:
            raise ValueError(
                f'Config.evict_after_min_ms ({self.evict_after_min_ms!r}) must not exceed '
                f'evict_after_max_ms ({self.evict_after_max_ms!r})'
            )
        if self.alarm_delivery_min_ms > self.alarm_delivery_max_ms:
            raise ValueError(
                f'Config.alarm_delivery_min_ms ({self.alarm_delivery_min_ms!r}) must not exceed '
                f'alarm_delivery_max_ms ({self.alarm_delivery_max_ms!r})'
            )

    # -- building variants ---------------------------------------------------------------
    def replace(self, **changes: Any) -> Config:
        """A copy with *changes*; unknown names raise :class:`TypeError` naming them."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """A config from a mapping of field names to values (defaults for the rest)."""
        if not isinstance(data, dict):
            raise TypeError(f'Config data must be a mapping, got {type(data).__name__}')
        _check_names(data)
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Config:
        """A config from a YAML file holding a mapping of field names to values."""
        import yaml

        with open(path, encoding='utf-8') as fh:
            data = yaml.safe_load(fh) or {}
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain mapping (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @staticmethod
    def describe() -> list[dict[str, Any]]:
        """One row per field: name, default, unit, source, note."""
        return [
            {'name': f.name, 'default': f.default, **f.metadata}
            for f in dataclasses.fields(Config)
        ]


_TRACE_LEVELS = ('full', 'requests', 'summary')


def _check_names(data: dict[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(Config)}
    for name in data:
        if name not in known:
            raise TypeError(f'unknown Config field {name!r}')


def _check_field(name: str, type_name: Any, value: Any) -> None:
    kind = str(type_name)
    if kind == 'bool':
        if not isinstance(value, bool):
            raise TypeError(f'Config.{name} must be true or false, got {value!r}')
        return
    if kind == 'str':
        if name == 'trace_level' and value not in _TRACE_LEVELS:
            raise ValueError(f'Config.{name} must be one of {_TRACE_LEVELS}, got {value!r}')
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f'Config.{name} must be a number, got {value!r}')
    if kind == 'int' and not float(value).is_integer():
        raise TypeError(f'Config.{name} must be a whole number, got {value!r}')
    if not math.isfinite(value) or value < 0:
        raise ValueError(f'Config.{name} must be a finite number >= 0, got {value!r}')
    if name.endswith('_rate') and value > 1:
        raise ValueError(f'Config.{name} is a probability and must be <= 1, got {value!r}')


def markdown_table() -> str:
    """The table of fields kept in ``data/config.md``."""
    lines = [
        '# dosim Config: defaults and their sources',
        '',
        'Generated by `python -m dosim.config`; a test keeps it in step with `dosim/config.py`.',
        'Source keys are those of `../shared/reference/do-semantics.md`; "assumption" marks a',
        'value Cloudflare does not publish, with the reasoning in the note.',
        '',
        '| field | default | unit | source | note |',
        '|---|---|---|---|---|',
    ]
    for row in Config.describe():
        lines.append(
            f"| `{row['name']}` | {row['default']!r} | {row['unit']} | {row['source']} "
            f"| {row['note']} |"
        )
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':  # pragma: no cover - a maintenance entry point
    print(markdown_table(), end='')
