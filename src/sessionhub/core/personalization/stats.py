"""The statistics of experiment results, in plain Python (no SciPy).

Two-proportion z test and Welch's t test (frequentist), a Bayesian beta-binomial (or
normal, for means) chance to beat control and expected loss by Monte Carlo with a fixed
seed (so a result does not wobble between reads), and a chi-square test of the sample
ratio. The special functions are the classic continued fractions (Numerical Recipes).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
DRAWS = 20_000
SEED = 20_260_101


def normal_two_sided(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-12:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_two_sided(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with ``df`` degrees of freedom."""
    if df <= 0 or math.isnan(t):
        return 1.0
    return betainc(df / 2, 0.5, df / (df + t * t))


def gammaincc(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x)."""
    if x <= 0:
        return 1.0
    gln = math.lgamma(a)
    if x < a + 1:  # the series for P, then Q = 1 - P
        term = total = 1 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-14:
                break
        return max(0.0, 1 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-14:
            break
    return math.exp(-x + a * math.log(x) - gln) * h


def chi2_sf(stat: float, df: int) -> float:
    return gammaincc(df / 2, stat / 2)


def srm_p_value(counts: Sequence[int], weights: Sequence[float]) -> float | None:
    """The chi-square test's p-value that ``counts`` follow ``weights`` (None with no units)."""
    total = sum(counts)
    if total == 0 or len(counts) < 2:
        return None
    share = sum(weights)
    stat = 0.0
    for count, weight in zip(counts, weights, strict=True):
        expected = total * weight / share
        stat += (count - expected) ** 2 / expected
    return chi2_sf(stat, len(counts) - 1)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p(c1: int, n1: int, c2: int, n2: int) -> float | None:
    """The two-sided p-value of the pooled two-proportion z test."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (c1 + c2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return normal_two_sided((c2 / n2 - c1 / n1) / se)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    var: float  # sample variance


def summarize(values: Sequence[float]) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(0, 0.0, 0.0)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return Summary(n, mean, var)


def mean_ci(s: Summary) -> tuple[float, float]:
    half = Z95 * math.sqrt(s.var / s.n) if s.n > 0 else 0.0
    return s.mean - half, s.mean + half


def welch_p(a: Summary, b: Summary) -> float | None:
    """The two-sided p-value of Welch's t test of two means."""
    if a.n < 2 or b.n < 2:
        return None
    va, vb = a.var / a.n, b.var / b.n
    if va + vb == 0:
        return 1.0 if a.mean == b.mean else 0.0
    t = (b.mean - a.mean) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    return t_two_sided(t, df)


def bayes_proportions(control: tuple[int, int], variant: tuple[int, int]) -> tuple[float, float]:
    """(chance the variant's rate beats control's, expected loss of choosing the variant),
    under uniform Beta(1, 1) priors."""
    rng = random.Random(SEED)
    (cc, cn), (vc, vn) = control, variant
    wins = 0
    loss = 0.0
    for _ in range(DRAWS):
        pc = rng.betavariate(1 + cc, 1 + cn - cc)
        pv = rng.betavariate(1 + vc, 1 + vn - vc)
        if pv > pc:
            wins += 1
        else:
            loss += pc - pv
    return wins / DRAWS, loss / DRAWS


def bayes_means(control: Summary, variant: Summary) -> tuple[float, float]:
    """The same for means, with normal posteriors N(mean, var / n)."""
    rng = random.Random(SEED)
    sc = math.sqrt(control.var / control.n) if control.n else 0.0
    sv = math.sqrt(variant.var / variant.n) if variant.n else 0.0
    wins = 0
    loss = 0.0
    for _ in range(DRAWS):
        mc = rng.gauss(control.mean, sc)
        mv = rng.gauss(variant.mean, sv)
        if mv > mc:
            wins += 1
        else:
            loss += mc - mv
    return wins / DRAWS, loss / DRAWS
