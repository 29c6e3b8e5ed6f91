"""The statistics behind experiment results, against textbook values."""

from __future__ import annotations

import pytest

from sessionhub.core.personalization import stats


def test_two_proportion_z_test_matches_the_textbook_value() -> None:
    """10% vs 13% of 1000 each: z ≈ 2.10, two-sided p ≈ 0.0355."""
    assert pytest.approx(0.0355, abs=5e-4) == stats.two_proportion_p(100, 1000, 130, 1000)


@pytest.mark.parametrize(
    ("stat", "df"), [(3.841458820694124, 1), (5.991464547107979, 2), (11.070497693516351, 5)]
)
def test_chi_square_survival_is_five_percent_at_the_critical_values(stat: float, df: int) -> None:
    """The chi-square tail at the 95% critical value is 0.05."""
    assert pytest.approx(0.05, abs=1e-6) == stats.chi2_sf(stat, df)


@pytest.mark.parametrize(
    ("t", "df"), [(2.228138851986274, 10), (12.706204736174704, 1), (1.9839715185235556, 100)]
)
def test_student_t_two_sided_is_five_percent_at_the_critical_values(t: float, df: int) -> None:
    """Student's t two-sided tail at the 97.5% quantile is 0.05."""
    assert pytest.approx(0.05, abs=1e-6) == stats.t_two_sided(t, df)


def test_welch_t_test_of_clearly_different_means_is_significant() -> None:
    """Two samples a few standard errors apart give a small p; identical ones give 1."""
    a = stats.summarize([1.0, 2.0, 3.0, 4.0, 5.0] * 20)
    b = stats.summarize([2.0, 3.0, 4.0, 5.0, 6.0] * 20)
    p = stats.welch_p(a, b)
    assert p is not None
    assert p < 0.001
    assert 1.0 == stats.welch_p(a, a)


def test_sample_ratio_mismatch_flags_a_skewed_split() -> None:
    """A 50/50 experiment with 1000 vs 1200 units is a mismatch; 1000 vs 1010 is not."""
    skewed = stats.srm_p_value([1000, 1200], [1, 1])
    fine = stats.srm_p_value([1000, 1010], [1, 1])
    assert skewed is not None
    assert skewed < 0.001
    assert fine is not None
    assert fine > 0.5


def test_bayesian_chance_to_beat_control_and_expected_loss() -> None:
    """A clearly better variant almost surely beats control at almost no expected loss."""
    chance, loss = stats.bayes_proportions((100, 1000), (150, 1000))
    assert chance > 0.99
    assert loss < 0.001
    chance, loss = stats.bayes_proportions((100, 1000), (100, 1000))
    assert 0.4 < chance < 0.6
    assert loss > 0.001


def test_wilson_interval_holds_the_rate() -> None:
    """The 95% Wilson interval of 50/100 is about 0.40-0.60."""
    low, high = stats.wilson(50, 100)
    assert (pytest.approx(0.4038, abs=1e-3), pytest.approx(0.5962, abs=1e-3)) == (low, high)
