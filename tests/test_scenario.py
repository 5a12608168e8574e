"""Scenario files: a whole simulation as data -- checked on load, run, replicated, swept.

A scenario file names namespaces (built-in models or import paths), traffic sources, faults,
``Config`` overrides, duration, warm-up, seed and replications. Loading it checks every
field, and an error names the field's dotted path and the bad value, so a typo deep in a
workload spec reads ``workload.arrivals.rate_per_s: ... got -1``. The bindings may come from a
real ``wrangler.toml``, whose migrations decide each class's storage backend.

Every shipped scenario (``data/scenarios/*.yaml``) is loaded and run here at a reduced
duration.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from dosim import cost
from dosim.models import AgentLoop, ChatRoom
from dosim.scenario import (
    MODELS,
    Scenario,
    ScenarioError,
    load,
    read_wrangler,
    replicate,
    run,
    set_path,
    sweep,
    write_frames,
)
from dosim.scenario.errors import SpecError
from dosim.scenario.models import Counter
from dosim.scenario.output import OutputError
from dosim.scenario.paths import parse_grid
from dosim.workload import BusyObject

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / 'data' / 'scenarios').glob('*.yaml'))
QUIET = {'uniqueness_check_ms': 0, 'jitter_scale_ms': 0}


def busy(**changes):
    """A small scenario: Poisson requests to BusyObjects, each computing 1 ms."""
    data = {
        'duration_ms': 2_000, 'warmup_ms': 500, 'drain_ms': 500, 'seed': 3,
        'config': dict(QUIET),
        'namespaces': {'BUSY': {'class': 'busy'}},
        'workload': {'namespace': 'BUSY', 'arrivals': {'kind': 'poisson', 'rate_per_s': 200},
                     'keys': {'kind': 'uniform', 'n_keys': 4},
                     'request': {'kind': 'rpc', 'method': 'work',
                                 'cost': {'kind': 'constant', 'ms': 1}}},
    }
    for path, value in changes.items():
        data = set_path(data, path, value)
    return data


# -- the shipped scenarios -------------------------------------------------------------------
def test_the_issue_asks_for_four_kinds_of_scenario_and_all_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {'hot_counter', 'agent_fleet', 'chat_rooms', 'agents_across_regions',
            'from_wrangler'} <= names


@pytest.mark.parametrize('path', SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_loads_and_runs_at_a_reduced_duration(path):
    """Each file runs for a quarter of its duration (its warm-up scaled alike). The summary
    has one row per namespace plus ``all``, whose counts are the namespaces' sums, and whose
    bill is the paid total of the bill frame."""
    full = load(path)
    spec = full.spec
    sc = full.with_values({'duration_ms': spec.duration_ms / 4,
                           'warmup_ms': spec.warmup_ms / 4})
    result = run(sc)
    summary = result.summary.set_index('namespace')
    assert list(summary.index) == [*spec.namespaces, 'all']
    for column in ('requests', 'errors', 'alarms', 'ws_messages', 'objects'):
        assert summary.loc['all', column] == summary[column].drop('all').sum()
    assert summary.loc['all', 'monthly_usd'] == pytest.approx(
        cost.totals(result.frames['bill'])['paid'])
    activity = summary.loc['all', ['requests', 'alarms', 'ws_messages']].sum()
    assert activity > 0


def test_a_run_is_determined_by_its_seed():
    sc = load(ROOT / 'data' / 'scenarios' / 'hot_counter.yaml').with_values(
        {'duration_ms': 1_000, 'warmup_ms': 200})
    first, again, other = run(sc), run(sc), run(sc, seed=99)
    pd.testing.assert_frame_equal(first.frames['requests'], again.frames['requests'])
    assert not first.frames['requests']['sent_ms'].equals(other.frames['requests']['sent_ms'])


# -- what a run does -----------------------------------------------------------------------------
def test_the_summary_counts_only_requests_sent_after_the_warm_up():
    result = run(Scenario(busy()))
    requests = result.frames['requests']
    window = requests[(requests['sent_ms'] >= 500) & (requests['sent_ms'] < 2_000)]
    row = result.summary.set_index('namespace').loc['all']
    assert row['requests'] == len(window) < len(requests)
    assert row['p50_ms'] == window['latency_ms'].quantile(0.5)
    assert row['p99_ms'] == window['latency_ms'].quantile(0.99)
    answered = requests[(requests['received_ms'] >= 500) & (requests['received_ms'] < 2_000)]
    assert row['throughput_per_s'] == len(answered) / 1.5


def test_config_overrides_and_storage_reach_the_simulation():
    result = run(Scenario(busy(**{'config.hop_base_ms': 5.0,
                                  'namespaces.BUSY.storage': 'kv'})))
    assert result.sim.config.hop_base_ms == 5.0
    assert result.sim.namespaces['BUSY'].storage == 'kv'
    # No jitter: every request crosses the same hop both ways, 5 ms each.
    assert set(result.frames['requests']['network_ms'].round(9)) == {10.0}


def test_a_once_source_sends_one_request_to_every_key_evenly_spread():
    data = busy(workload={'namespace': 'BUSY', 'once': {'over_ms': 1_000}, 'start_ms': 100,
                          'keys': {'kind': 'uniform', 'n_keys': 8},
                          'request': {'kind': 'rpc', 'method': 'ping'}})
    requests = run(Scenario(data)).frames['requests'].sort_values('sent_ms')
    assert list(requests['object']) == [f'key-{i}' for i in range(8)]
    assert list(requests['sent_ms']) == [100 + 125 * i for i in range(8)]


def test_a_source_sends_only_within_its_own_window():
    data = busy(**{'workload.start_ms': 600, 'workload.duration_ms': 400})
    sent = run(Scenario(data)).frames['requests']['sent_ms']
    assert sent.min() >= 600
    assert sent.max() < 1_000


def test_one_source_is_shorthand_for_a_source_named_main():
    """``workload: {namespace: ...}`` runs as the source ``main``: same random streams,
    same requests."""
    one = Scenario(busy())
    named = Scenario({**busy(), 'workload': {'main': busy()['workload']}})
    pd.testing.assert_frame_equal(run(one).frames['requests'], run(named).frames['requests'])


def test_settings_configure_the_model():
    """AgentLoop with a 1 s interval and 10 ms cycles, alarms delivered 2 ms late: each
    cycle sets the next alarm 1 s after it ends, so (once the caches are warm) alarms are
    2 + 10 + 1000 = 1,012 ms apart."""
    data = {
        'duration_ms': 5_000,
        'config': {**QUIET, 'alarm_delivery_min_ms': 2, 'alarm_delivery_max_ms': 2},
        'namespaces': {'AGENTS': {'class': 'agent_loop',
                                  'settings': {'loop_interval_ms': 1_000,
                                               'cycle_cpu_ms': 10}}},
        'workload': {'namespace': 'AGENTS', 'once': {},
                     'request': {'kind': 'rpc', 'method': 'start_loop'}},
    }
    sc = Scenario(data)
    cls = sc.spec.namespaces['AGENTS'].cls
    assert issubclass(cls, AgentLoop)
    assert cls.settings.loop_interval_ms == 1_000
    alarms = run(sc).frames['alarms']
    assert list(alarms['scheduled_ms'].diff().iloc[2:]) == [1_012.0] * 4


def test_faults_are_applied_at_their_time():
    data = busy(faults=[{'kind': 'deploy', 'at_ms': 1_000, 'namespace': 'BUSY'}])
    faults = run(Scenario(data)).frames['faults']
    assert list(faults['kind']) == ['deploy']
    assert list(faults['time_ms']) == [1_000.0]


def test_the_models_are_found_by_short_name_class_name_and_import_path():
    for name, cls in (('busy', BusyObject), ('BusyObject', BusyObject),
                      ('dosim.workload.busy:BusyObject', BusyObject),
                      ('dosim.models.ChatRoom', ChatRoom), ('counter', Counter)):
        sc = Scenario(busy(**{'namespaces.BUSY.class': name}))
        assert sc.spec.namespaces['BUSY'].model is cls
    assert set(MODELS) >= {'counter', 'busy', 'agent_loop', 'chat_room', 'messaging_agent'}


def test_a_class_in_a_module_beside_the_scenario_file_is_found(tmp_path):
    (tmp_path / 'my_objects.py').write_text(textwrap.dedent('''
        import dosim

        class Echo(dosim.DurableObject):
            def fetch(self, request):
                return dosim.Response('echo')
    '''))
    (tmp_path / 's.yaml').write_text(textwrap.dedent('''
        duration_ms: 500
        namespaces: {ECHO: {class: 'my_objects:Echo'}}
        workload: {namespace: ECHO, arrivals: {kind: constant, interval_ms: 100}}
    '''))
    result = run(load(tmp_path / 's.yaml'))
    assert result.sim.namespaces['ECHO'].cls.__name__ == 'Echo'
    assert len(result.frames['requests']) == 5


def test_a_module_that_fails_to_import_is_reported_not_raised(tmp_path):
    (tmp_path / 'broken_objects.py').write_text("raise RuntimeError('half-written module')\n")
    data = busy(**{'namespaces.BUSY.class': 'broken_objects:Thing'})
    with pytest.raises(ScenarioError) as caught:
        Scenario(data, base_dir=tmp_path)
    assert "namespaces.BUSY.class: cannot import module 'broken_objects'" in str(caught.value)
    assert 'RuntimeError: half-written module' in str(caught.value)


# -- errors name the path and the value --------------------------------------------------------
BAD = [
    ('workload.arrivals.rate_per_s', -1,
     'workload.arrivals.rate_per_s: Poisson.rate_per_s must be a number > 0, got -1'),
    ('workload.arrivals.kind', 'poison', "workload.arrivals.kind: unknown arrivals kind"),
    ('workload.arrivals.rate', 5, "workload.arrivals.rate: unknown field of 'poisson'"),
    ('workload.request.cost.ms', -3, 'workload.request.cost.ms: ConstantMs.ms must be'),
    ('workload.keys.n_keys', 0, 'workload.keys.n_keys: UniformKeys.n_keys must be'),
    ('workload.locations', {'kind': 'mix', 'weights': {'XXX': 1}},
     "workload.locations.weights: LocationMix.weights: unknown data centre 'XXX'"),
    ('workload.namespace', 'OTHER',
     "workload.namespace: unknown namespace; declared: BUSY, got 'OTHER'"),
    ('workload.once', {'over_ms': 10},
     "workload: give exactly one of arrivals, clients and once, got ['arrivals', 'once']"),
    ('duration_ms', 0, 'duration_ms: input should be greater than 0, got 0'),
    ('duration_ms', '2s', "duration_ms: input should be a valid number, got '2s'"),
    ('warmup_ms', 5_000, 'warmup_ms: must be shorter than duration_ms (2000), got 5000'),
    ('seed', 1.5, 'seed: input should be a valid integer, got 1.5'),
    ('replications', 0, 'replications: input should be greater than or equal to 1, got 0'),
    ('config.hop_base_ms', -1, 'config.hop_base_ms: Config.hop_base_ms must be a finite'),
    ('config.hop_bse_ms', 1, 'config.hop_bse_ms: unknown Config field'),
    ('namespaces.BUSY.class', 'nope', "namespaces.BUSY.class: unknown model"),
    ('namespaces.BUSY.class', 'os:path', 'namespaces.BUSY.class: not a dosim.DurableObject'),
    ('namespaces.BUSY.class', 'no_such_pkg.mod:X',
     "namespaces.BUSY.class: cannot import module 'no_such_pkg.mod'"),
    ('namespaces.BUSY.storage', 'disk',
     "namespaces.BUSY.storage: input should be 'sqlite' or 'kv', got 'disk'"),
    ('namespaces.BUSY.settings.speed', 2,
     "namespaces.BUSY.settings.speed: BusyObject has no setting 'speed'"),
    ('namespaces.BUSY.colour', 'red', "namespaces.BUSY.colour: unknown field, got 'red'"),
    ('faults', [{'kind': 'quake'}], "faults.0.kind: unknown fault; one of reset"),
    ('faults', [{'kind': 'deploy', 'at_ms': 1, 'namespace': 'X'}],
     "faults.0.namespace: unknown namespace; declared: BUSY, got 'X'"),
    ('faults', [{'kind': 'partition', 'start_ms': 0, 'end_ms': 5, 'a': 'LHR', 'b': 'ZZZ'}],
     "faults.0: partition: unknown data centre or region 'ZZZ'"),
    ('cost.scale', 0, 'cost.scale: input should be greater than 0, got 0'),
    ('extra', 1, 'extra: unknown field, got 1'),
]


@pytest.mark.parametrize(('path', 'value', 'message'), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_is_refused_naming_its_path_and_value(path, value, message):
    with pytest.raises(ScenarioError) as caught:
        Scenario(busy(**{path: value}))
    assert message in str(caught.value)


def test_a_list_of_faults_names_the_position():
    faults = [{'kind': 'deploy', 'at_ms': 1}, {'kind': 'reset', 'at_ms': 1,
                                                'namespace': 'BUSY', 'nam': 'key-0'}]
    expected = r"faults\.1: Faults\.reset\(\) got an unexpected keyword argument 'nam'"
    with pytest.raises(ScenarioError, match=expected):
        Scenario(busy(faults=faults))


def test_a_file_error_names_the_file(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('duration_ms: 100\nnamespaces: {A: {class: busy}}\nwarmup_ms: -5\n')
    with pytest.raises(ScenarioError) as caught:
        load(bad)
    assert str(caught.value) == f'{bad}: warmup_ms: input should be greater than or equal ' \
                                'to 0, got -5'
    bad.write_text('duration_ms: [')
    with pytest.raises(ScenarioError, match='not valid YAML'):
        load(bad)
    with pytest.raises(ScenarioError, match='cannot read'):
        load(tmp_path / 'missing.yaml')
    bad.write_text('- a list\n')
    with pytest.raises(ScenarioError, match='the file must hold a mapping of fields'):
        load(bad)
    with pytest.raises(ScenarioError, match='a mapping of fields'):
        Scenario.from_dict([1, 2])


# -- dotted paths ---------------------------------------------------------------------------
def test_set_path_copies_makes_missing_mappings_and_indexes_lists():
    data = {'workload': {'arrivals': {'rate_per_s': 1}}, 'faults': [{'at_ms': 1}]}
    changed = set_path(data, 'workload.arrivals.rate_per_s', 2)
    assert changed['workload']['arrivals']['rate_per_s'] == 2
    assert data['workload']['arrivals']['rate_per_s'] == 1   # the original is untouched
    assert set_path(data, 'config.x', 0)['config'] == {'x': 0}
    assert set_path(data, 'faults.0.at_ms', 5)['faults'] == [{'at_ms': 5}]
    with pytest.raises(SpecError, match="faults is a list of 1; '3' is not a position"):
        set_path(data, 'faults.3.at_ms', 5)
    with pytest.raises(SpecError, match="rate_per_s is a single value"):
        set_path(data, 'workload.arrivals.rate_per_s.x', 5)


def test_parse_grid_reads_values_as_yaml():
    grid = parse_grid(['workload.arrivals.rate_per_s=100,200.5', 'namespaces.A.storage=kv',
                       'x.flag=true'])
    assert grid == {'workload.arrivals.rate_per_s': [100, 200.5],
                    'namespaces.A.storage': ['kv'], 'x.flag': [True]}
    for bad in ('no_equals', 'a=', 'a=1,,2', '.a=1'):
        with pytest.raises(SpecError):
            parse_grid([bad])
    with pytest.raises(SpecError, match='given twice'):
        parse_grid(['a=1', 'a=2'])


# -- replications and sweeps through dosim.experiment ---------------------------------------
def test_replications_have_independent_seeds_and_every_metric():
    runs = replicate(Scenario(busy()), reps=3)
    assert runs['rep'].nunique() == 3
    assert runs['seed'].nunique() == 3
    assert set(runs['metric']) == set(pytest.importorskip('dosim.scenario').METRICS)


def test_a_sweep_runs_every_point_with_the_same_seeds():
    """Common random numbers: replication i has the same seed at every point, so the
    same arrivals -- only the rate changes the count."""
    runs = sweep(Scenario(busy()), {'workload.arrivals.rate_per_s': [100, 400]}, reps=2)
    assert list(runs.columns[:1]) == ['workload.arrivals.rate_per_s']
    seeds = runs.groupby('workload.arrivals.rate_per_s')['seed'].unique()
    assert list(seeds[100]) == list(seeds[400])
    requests = runs[runs['metric'] == 'requests'].groupby(
        'workload.arrivals.rate_per_s')['value'].mean()
    assert requests[400] / requests[100] == pytest.approx(4, rel=0.15)


def test_a_sweep_refuses_a_path_that_names_no_field_before_running():
    with pytest.raises(ScenarioError, match=r'workload\.arrivals\.rate: unknown field'):
        sweep(Scenario(busy()), {'workload.arrivals.rate': [1, 2]}, reps=1)
    with pytest.raises(ScenarioError, match='non-empty list'):
        sweep(Scenario(busy()), {'duration_ms': []}, reps=1)


# -- wrangler.toml ----------------------------------------------------------------------------
WRANGLER = '''
name = "app"
main = "src/index.ts"

[[durable_objects.bindings]]
name = "ROOMS"
class_name = "ChatRoom"

[[durable_objects.bindings]]
name = "COUNTERS"
class_name = "Counter"

[[durable_objects.bindings]]
name = "JOBS"
class_name = "JobQueue"

[[migrations]]
tag = "v1"
new_classes = ["Counter", "Room"]

[[migrations]]
tag = "v2"
renamed_classes = [{ from = "Room", to = "ChatRoom" }]
new_sqlite_classes = ["JobQueue", "Scratch"]

[[migrations]]
tag = "v3"
deleted_classes = ["Scratch"]
'''


def wrangler_scenario(tmp_path, toml=WRANGLER, **extra):
    (tmp_path / 'wrangler.toml').write_text(toml)
    data = {'duration_ms': 1_000, 'wrangler': 'wrangler.toml',
            'classes': {'JobQueue': 'busy'}, **extra}
    return Scenario(data, base_dir=tmp_path)


def test_wrangler_bindings_become_namespaces_with_the_migrations_backends(tmp_path):
    """Counter was created on the key-value backend (v1), the old Room too and renamed to
    ChatRoom (v2, keeping its backend), JobQueue on SQLite (v2)."""
    (tmp_path / 'wrangler.toml').write_text(WRANGLER)
    bindings = read_wrangler(tmp_path / 'wrangler.toml')
    assert [(b.name, b.class_name, b.storage) for b in bindings] == [
        ('ROOMS', 'ChatRoom', 'kv'), ('COUNTERS', 'Counter', 'kv'), ('JOBS', 'JobQueue', 'sqlite')]
    spec = wrangler_scenario(tmp_path).spec
    assert {b: (ns.model, ns.storage) for b, ns in spec.namespaces.items()} == {
        'ROOMS': (ChatRoom, 'kv'), 'COUNTERS': (Counter, 'kv'), 'JOBS': (BusyObject, 'sqlite')}


def test_a_wrangler_namespace_takes_settings_from_the_scenario(tmp_path):
    sc = wrangler_scenario(tmp_path, namespaces={'ROOMS': {'settings': {'hibernatable': False}}})
    assert sc.spec.namespaces['ROOMS'].cls.hibernatable is False
    with pytest.raises(ScenarioError, match=r'namespaces\.ROOMS\.storage: ROOMS comes from'):
        wrangler_scenario(tmp_path, namespaces={'ROOMS': {'storage': 'sqlite'}})


def test_an_unmapped_class_name_is_named(tmp_path):
    (tmp_path / 'wrangler.toml').write_text(WRANGLER)
    data = {'duration_ms': 1_000, 'wrangler': 'wrangler.toml'}
    with pytest.raises(ScenarioError) as caught:
        Scenario(data, base_dir=tmp_path)
    assert "binds JOBS to class_name 'JobQueue', which is not a built-in model" in \
        str(caught.value)
    with pytest.raises(ScenarioError, match=r"classes\.Jobqueue: no binding"):
        wrangler_scenario(tmp_path, classes={'Jobqueue': 'busy'})
    with pytest.raises(ScenarioError, match=r"classes\.JobQueue: unknown model"):
        wrangler_scenario(tmp_path, classes={'JobQueue': 'bsy'})


WRANGLER_ERRORS = [
    (WRANGLER.replace('new_classes = ["Counter", "Room"]', 'new_classes = ["Room"]'),
     "class 'Counter' is not created by any [[migrations]]"),
    (WRANGLER.replace('{ from = "Room"', '{ from = "Rom"'),
     "renamed_classes: class 'Rom' does not exist"),
    (WRANGLER.replace('deleted_classes = ["Scratch"]', 'deleted_classes = ["JobQueue"]'),
     "class 'JobQueue' is not created by any [[migrations]] (new_sqlite_classes or "
     'new_classes), or was deleted'),
    (WRANGLER.replace('tag = "v3"', 'tag = "v2"'), "tag 'v2' is used twice"),
    (WRANGLER.replace('deleted_classes = ["Scratch"]',
                      'transferred_classes = [{from = "A", from_script = "w", to = "B"}]'),
     'transferred_classes moves objects from another Worker'),
    (WRANGLER.replace('class_name = "JobQueue"', 'class_name = "JobQueue"\nscript_name = "jobs"'),
     "lives in Worker 'jobs'"),
    (WRANGLER.replace('new_sqlite_classes = ["JobQueue", "Scratch"]',
                      'new_sqlite_classes = ["JobQueue", "Counter"]'),
     "new_sqlite_classes: class 'Counter' already exists"),
    (WRANGLER.replace('tag = "v1"', 'tag = "v1"\nrenamed = true'), "unknown key 'renamed'"),
    ('name = "x"\n', 'declares no [[durable_objects.bindings]]'),
    ('name = "x\n', 'is not valid TOML'),
]


@pytest.mark.parametrize(('toml', 'message'), WRANGLER_ERRORS)
def test_a_wrangler_toml_that_would_not_deploy_is_refused_clearly(tmp_path, toml, message):
    with pytest.raises(ScenarioError) as caught:
        wrangler_scenario(tmp_path, toml=toml)
    assert str(caught.value).startswith('wrangler: ')
    assert message in str(caught.value)


# -- writing the frames ---------------------------------------------------------------------
FRAMES = {'a': pd.DataFrame({'x': [1, 2], 'y': ['p', None]}), 'b': pd.DataFrame({'z': [0.5]})}


def test_write_frames_writes_everything_and_leaves_no_temporaries(tmp_path):
    out = tmp_path / 'out'
    written = write_frames(FRAMES, out, 'csv', texts={'note.txt': 'hi'})
    assert sorted(p.name for p in written) == ['a.csv', 'b.csv', 'note.txt']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']
    pd.testing.assert_frame_equal(pd.read_csv(out / 'b.csv'), FRAMES['b'])


def test_write_frames_refuses_a_non_empty_directory_unless_forced(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    with pytest.raises(OutputError, match='exists and is not empty'):
        write_frames(FRAMES, out)
    assert [p.name for p in out.iterdir()] == ['keep.txt']
    write_frames(FRAMES, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ['a.csv', 'b.csv']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']


def test_parquet_keeps_the_frames_and_a_missing_pyarrow_is_explained(tmp_path, monkeypatch):
    pytest.importorskip('pyarrow')
    write_frames(FRAMES, tmp_path / 'pq', 'parquet')
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / 'pq' / 'a.parquet'), FRAMES['a'],
                                  check_dtype=False)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'pyarrow' else real(name, *a))
    with pytest.raises(OutputError, match=r"pip install 'dosim\[parquet\]', or use --format csv"):
        write_frames(FRAMES, tmp_path / 'pq2', 'parquet')
    assert not (tmp_path / 'pq2').exists()
