"""Validation against queueing theory: one object is a single-server queue.

A Durable Object runs one event at a time, and requests that arrive while it is busy wait in
its queue behind the input gate. One object whose handler only computes (``yield
dosim.compute(ms)``) is therefore the textbook *single-server queue*. With Poisson arrivals
at rate λ and service times of mean 1/μ, the load is ρ = λ/μ and queueing theory knows the
long-run mean wait in the queue, Wq, exactly:

* exponential service (M/M/1): Wq = ρ / (μ − λ);
* constant service (M/D/1), from the Pollaczek–Khinchine formula: Wq = ρ / (2μ(1 − ρ)) --
  half the M/M/1 wait: the variability of service, not only its mean, makes queues;

and Little's law gives the time-average number waiting, Lq = λ·Wq.

These tests replicate the simulated queue with independent seeds, drop each run's warm-up
(the queue starts empty) and check that the theoretical value lies inside the 95 %
confidence interval of the measured mean, at loads 0.5, 0.8 and 0.9 -- and that the interval
is tight enough for that to mean something (half-width under 10 % of the value, 15 % at
ρ = 0.9). The runs are long, because near saturation the queue forgets its past slowly: about
550 000 requests in all, on a process pool.

The model removes what is not a queue: no network jitter (every request takes the same
1 ms to arrive, which shifts the Poisson arrivals without changing them), no uniqueness
check, and overload thresholds raised out of reach (``overload_max_queued`` and
``overload_max_queue_time_ms``), so that no request is refused however long the queue grows;
the ``failed`` metric checks that none was.

A 95 % interval misses the truth in one experiment out of twenty, so with six queues checked
some seeds would fail a check by chance alone. The seed is fixed, so the outcome is the same on
every run; a change that moves a mean by more than its interval's width fails it.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import dosim
from dosim.experiment import replicate, summarize

pytestmark = pytest.mark.slow

MEAN_SERVICE_MS = 10.0   # 1/μ
SAMPLE_EVERY_MS = 5.0    # the queue length is read on this grid
LOADS = (0.5, 0.8, 0.9)
REPS = 10
SEED = 1
#: Per service and load: (warm-up, run length) in ms. Each warm-up is five to twenty
#: relaxation times of the queue, about 1/(μ(1 − √ρ)²) for M/M/1: 0.1 s at ρ = 0.5, 0.9 s at
#: 0.8 and 3.8 s at 0.9 (M/D/1 forgets faster). After it, the runs hold about 4 000, 8 500
#: and 16 700 requests (M/M/1), and 1 500, 5 000 and 13 300 (M/D/1, whose waits vary less).
RUNS = {
    ('exponential', 0.5): (2_000.0, 82_000.0),
    ('exponential', 0.8): (10_000.0, 116_000.0),
    ('exponential', 0.9): (20_000.0, 205_000.0),
    ('deterministic', 0.5): (2_000.0, 32_000.0),
    ('deterministic', 0.8): (10_000.0, 72_000.0),
    ('deterministic', 0.9): (20_000.0, 168_000.0),
}
#: The largest half-width of the 95 % interval, as a share of the theoretical value. Near
#: saturation a queue remembers its past for long, so the same precision costs many more
#: requests: ±10 % on the M/M/1 wait takes about 25 000 at ρ = 0.5 and 250 000 at 0.9.
PRECISION = {0.5: 0.10, 0.8: 0.10, 0.9: 0.15}
SERVICES = ('exponential', 'deterministic')

#: No jitter, no uniqueness check, no overload refusals; only requests traced.
QUEUE_CONFIG = dosim.Config(
    jitter_scale_ms=0.0, uniqueness_check_ms=0.0, trace_level='requests',
    overload_max_queued=10**9, overload_max_queue_time_ms=1e12,
)


class Server(dosim.DurableObject):
    """The single server: each request holds the object's one thread for its service time."""

    def serve(self, service_ms):
        yield dosim.compute(service_ms)


def single_server(seed: int, rho: float, service: str, horizon_ms: float) -> pd.DataFrame:
    """Poisson arrivals at load *rho* until *horizon_ms*, then the queue drains. Returns
    observations: ``wait_ms`` and ``failed`` per request (timed by arrival) and
    ``queue_length`` and ``busy`` sampled every SAMPLE_EVERY_MS."""
    sim = dosim.Simulation(seed=seed, config=QUEUE_CONFIG)
    stub = sim.namespace('QUEUE', Server).get_by_name('server')
    arrivals, services = sim.stream('arrivals'), sim.stream('service')
    rate = rho / MEAN_SERVICE_MS

    def clients():
        while True:
            yield sim.timeout(arrivals.expovariate(rate))
            if sim.now >= horizon_ms:
                return
            if service == 'exponential':
                stub.serve(services.expovariate(1 / MEAN_SERVICE_MS))
            else:
                stub.serve(MEAN_SERVICE_MS)

    sim.process(clients())
    sim.run()
    return queue_observations(sim.trace.requests, horizon_ms)


def queue_observations(requests: pd.DataFrame, horizon_ms: float) -> pd.DataFrame:
    """Long observations (time_ms, metric, value) from the requests frame. At time t,
    ``queue_length`` is the number of requests arrived and not yet started, and ``busy``
    is 1 while a handler runs: their means over the grid are time averages."""
    times = np.arange(0.0, horizon_ms, SAMPLE_EVERY_MS)

    def count(column: str) -> np.ndarray:
        return np.searchsorted(np.sort(requests[column].to_numpy()), times, side='right')

    waiting = count('arrived_ms') - count('started_ms')
    busy = count('started_ms') - count('handler_done_ms')
    arrived = requests['arrived_ms'].to_numpy()
    parts = [
        (arrived, 'wait_ms', requests['queue_ms'].to_numpy()),
        (arrived, 'failed', (requests['status'] != 'ok').to_numpy(dtype=float)),
        (times, 'queue_length', waiting.astype(float)),
        (times, 'busy', busy.astype(float)),
    ]
    return pd.concat([pd.DataFrame({'time_ms': t, 'metric': m, 'value': v})
                      for t, m, v in parts], ignore_index=True)


def theory(service: str, rho: float) -> dict[str, float]:
    """Wq (Pollaczek–Khinchine) and Lq = λ·Wq of the M/M/1 or M/D/1 queue."""
    mu = 1 / MEAN_SERVICE_MS
    lam = rho * mu
    wait = rho / (mu - lam) if service == 'exponential' else rho / (2 * mu * (1 - rho))
    return {'wait_ms': wait, 'queue_length': lam * wait}


@pytest.fixture(scope='module')
def runs() -> pd.DataFrame:
    """Both kinds of service at every load, REPS replications each. Replication i has the
    same seed everywhere, hence the same arrivals at the same load."""
    frames = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        for (service, rho), (warmup_ms, horizon_ms) in RUNS.items():
            frame = replicate(single_server, reps=REPS, seed=SEED, warmup_ms=warmup_ms,
                              executor=pool, progress=False, rho=rho, service=service,
                              horizon_ms=horizon_ms)
            frames.append(frame.assign(service=service, rho=rho))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope='module')
def summary(runs: pd.DataFrame) -> pd.DataFrame:
    return summarize(runs).set_index(['service', 'rho', 'metric'])


@pytest.mark.parametrize('service', SERVICES)
@pytest.mark.parametrize('rho', LOADS)
@pytest.mark.parametrize('metric', ['wait_ms', 'queue_length'])
def test_theory_lies_in_the_confidence_interval(summary, service, rho, metric):
    """M/M/1 and M/D/1: the theoretical Wq and Lq lie inside the 95 % interval of the
    replicated means, and the interval is narrower than ±10 % of the value (±15 % at
    ρ = 0.9)."""
    row = summary.loc[(service, rho, metric)]
    expected = theory(service, rho)[metric]
    assert row['n'] == REPS
    assert row['ci_low'] <= expected <= row['ci_high']
    assert row['half_width'] < PRECISION[rho] * expected


@pytest.mark.parametrize('service', SERVICES)
@pytest.mark.parametrize('rho', LOADS)
def test_the_server_is_busy_a_share_rho_of_the_time_and_refuses_nothing(summary, service, rho):
    """The utilisation of a single server is its load ρ (to within 0.01, about four standard
    errors of these runs); no request is ever refused."""
    assert summary.loc[(service, rho, 'busy'), 'mean'] == pytest.approx(rho, abs=0.01)
    assert summary.loc[(service, rho, 'failed'), 'mean'] == 0.0


@pytest.mark.parametrize('rho', LOADS)
def test_constant_service_halves_the_wait(runs, rho):
    """At the same load, the M/D/1 wait is half the M/M/1 wait. Both ran with the same seeds,
    hence the same arrivals, which makes their ratio steadier than independent runs would:
    it lies within 0.05 of 1/2 (about three standard errors)."""
    waits = runs[(runs['rho'] == rho) & (runs['metric'] == 'wait_ms')]
    mean = waits.groupby('service')['value'].mean()
    assert mean['deterministic'] / mean['exponential'] == pytest.approx(0.5, abs=0.05)
