"""Config: every runtime constant, with a default, a unit and a source.

Bad input is refused with an error that names the field and the value; YAML files load into
a Config; ``data/config.md`` lists every field and must match the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dosim
from dosim.config import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_come_from_the_semantics_reference():
    cfg = dosim.Config()
    assert cfg.start_epoch_ms == 1_767_225_600_000        # 2026-01-01T00:00:00Z
    assert cfg.cpu_limit_ms == 30_000
    assert cfg.kv_max_key_bytes == 2048
    assert cfg.kv_max_value_bytes == 131_072
    assert cfg.max_keys_per_call == 128
    assert cfg.block_concurrency_timeout_ms == 30_000


def test_every_field_names_a_source():
    for row in dosim.Config.describe():
        assert row['source'], row['name']
        assert row['unit'], row['name']


def test_unknown_fields_are_refused_by_name():
    with pytest.raises(TypeError, match="unknown Config field 'cpu_limit'"):
        dosim.Config.from_dict({'cpu_limit': 5})
    with pytest.raises(TypeError, match="unknown Config field 'nope'"):
        dosim.Config().replace(nope=1)


@pytest.mark.parametrize(('field', 'value', 'message'), [
    ('cpu_limit_ms', -1, r'Config.cpu_limit_ms must be a finite number >= 0, got -1'),
    ('write_failure_rate', 1.5, r'Config.write_failure_rate is a probability'),
    ('overload_max_queued', 2.5, r'Config.overload_max_queued must be a whole number, got 2.5'),
    ('hop_base_ms', 'fast', r"Config.hop_base_ms must be a number, got 'fast'"),
    ('reset_on_uncaught_exception', 1, r'must be true or false, got 1'),
    ('trace_level', 'loud', r"Config.trace_level must be one of"),
])
def test_bad_values_are_refused_naming_field_and_value(field, value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        dosim.Config.from_dict({field: value})


def test_yaml_round_trip(tmp_path):
    path = tmp_path / 'cfg.yaml'
    path.write_text('write_confirm_ms_sqlite: 7.5\noverload_max_queued: 10\n')
    cfg = dosim.Config.from_yaml(path)
    assert (cfg.write_confirm_ms_sqlite, cfg.overload_max_queued) == (7.5, 10)
    assert dosim.Config.from_dict(cfg.to_dict()) == cfg


def test_data_config_md_is_up_to_date():
    """Regenerate with: python -m dosim.config > data/config.md"""
    assert (ROOT / 'data' / 'config.md').read_text(encoding='utf-8') == markdown_table()


def test_the_clock_reads_like_date_now():
    sim = dosim.Simulation()
    seen = []

    def client():
        seen.append(dosim.now())
        yield sim.timeout(1500.7)
        seen.append(dosim.now())

    sim.process(client())
    sim.run()
    assert seen == [1_767_225_600_000, 1_767_225_601_500]
    with pytest.raises(RuntimeError, match='no simulation is running'):
        dosim.now()
