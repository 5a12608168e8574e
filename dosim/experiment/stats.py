"""Summaries of replicated metrics: the mean and its confidence interval.

One simulation run is one sample of a random quantity. Run it *n* times with independent
seeds and the *n* values of a metric give a mean and a sample standard deviation *s*; the
mean is uncertain by about ``s / sqrt(n)``. The 95 % confidence interval of the mean is::

    mean ± t* · s / sqrt(n)

where ``t*`` is the two-sided 95 % critical value of Student's t distribution with ``n - 1``
degrees of freedom (12.71 for 2 runs, 2.26 for 10, 1.96 for very many). It assumes the run
means are roughly normal, which the central limit theorem gives for runs that are long
compared to how long the model remembers its past.

dosim does not depend on SciPy, so :func:`student_t_critical` computes ``t*`` itself: for a
whole number of degrees of freedom the t distribution function has a closed form, a finite
trigonometric series (Abramowitz & Stegun 26.7.3-4), and bisection inverts it to about 12
significant digits. Past 300 degrees of freedom the series grows long, and the Cornish-Fisher
expansion around the normal quantile (A&S 26.7.5) is used instead, accurate to 1e-11 there.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pandas as pd

__all__ = ['student_t_critical', 'summarize']

#: Columns of a replicated frame that are not group keys of its summary.
NOT_KEYS = ('rep', 'seed', 'value')
_SERIES_UP_TO = 300  # degrees of freedom computed from the exact series


def _central_probability(t: float, df: int) -> float:
    """P(|T| <= t) for Student's T with *df* degrees of freedom (A&S 26.7.3-4), t >= 0."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 1:  # odd: 2/pi (theta + sin(theta) (cos + 2/3 cos^3 + 2·4/(3·5) cos^5 ...))
        term = total = math.cos(theta) if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= cos2 * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + sin * total)
    term = total = 1.0  # even: sin(theta) (1 + 1/2 cos^2 + 1·3/(2·4) cos^4 ...)
    for k in range(1, df // 2):
        term *= cos2 * (2 * k - 1) / (2 * k)
        total += term
    return sin * total


def student_t_critical(df: int, confidence: float = 0.95) -> float:
    """The two-sided critical value ``t*`` with P(|T| <= t*) = *confidence*, for Student's
    T with *df* (a whole number >= 1) degrees of freedom: 12.706 for df=1, 2.262 for df=9."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f'student_t_critical(df): a whole number >= 1, got {df!r}')
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
            or not 0 < confidence < 1:
        raise ValueError(f'student_t_critical(confidence): between 0 and 1, got {confidence!r}')
    if df > _SERIES_UP_TO:
        return _cornish_fisher(df, confidence)
    low, high = 0.0, 1.0
    while _central_probability(high, df) < confidence:
        low, high = high, high * 2
    for _ in range(200):
        mid = (low + high) / 2
        if _central_probability(mid, df) < confidence:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * high:
            break
    return (low + high) / 2


def _cornish_fisher(df: int, confidence: float) -> float:
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def summarize(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per metric (and per parameter point of a sweep) of a frame made by
    :func:`~dosim.experiment.replicate` or :func:`~dosim.experiment.sweep`: ``mean``,
    ``std`` (sample standard deviation), ``n`` (runs with a value), ``half_width`` of the
    *confidence* interval of the mean (Student's t), ``ci_low`` and ``ci_high``.

    Rows are grouped by every column except ``rep``, ``seed`` and ``value``, in the order
    they first appear. With one run, the spread and the interval are unknown (NaN)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f'summarize(frame): a DataFrame, got {type(frame).__name__}')
    missing = [c for c in ('metric', 'value') if c not in frame.columns]
    if missing:
        raise ValueError(f'summarize(frame): the frame has no column {missing[0]!r}; it takes '
                         f'the frame of replicate() or sweep(), got columns {list(frame.columns)}')
    student_t_critical(1, confidence)  # checks confidence
    keys = [c for c in frame.columns if c not in NOT_KEYS]
    stats = frame.groupby(keys, sort=False, dropna=False)['value'].agg(['mean', 'std', 'count'])
    stats = stats.rename(columns={'count': 'n'}).reset_index()
    critical = [student_t_critical(int(n) - 1, confidence) if n >= 2 else math.nan
                for n in stats['n']]
    stats['half_width'] = critical * stats['std'] / stats['n'].pow(0.5)
    stats['ci_low'] = stats['mean'] - stats['half_width']
    stats['ci_high'] = stats['mean'] + stats['half_width']
    return stats
