"""utils/stats.py: mean ± standard error over seeds, paired differences and the noise floor."""

import math

import pytest

from utils import stats


def test_mean_se_matches_the_textbook_formula():
    result = stats.mean_se([1.0, 2.0, 3.0, 4.0])
    assert result.mean == 2.5 and result.n == 4
    assert result.se == pytest.approx(math.sqrt(5 / 3) / 2)


def test_a_paired_difference_removes_what_both_arms_share():
    # both arms swing together with the seed; their difference is steady
    a, b = [0.90, 0.80, 0.95], [0.88, 0.78, 0.93]
    gap = stats.paired_difference(a, b)
    assert gap.mean == pytest.approx(0.02) and gap.se == pytest.approx(0.0, abs=1e-12)
    assert gap.exceeds_noise()
    assert not stats.mean_se(a).mean - stats.mean_se(b).mean > stats.mean_se(a).se  # unpaired: drowned


def test_exceeds_noise_fails_on_noise_on_a_margin_and_on_too_few_seeds():
    noisy = stats.paired_difference([0.91, 0.89, 0.92], [0.90, 0.91, 0.90])
    assert noisy.mean > 0 and not noisy.exceeds_noise()
    steady = stats.paired_difference([0.95, 0.96, 0.95], [0.90, 0.91, 0.90])
    assert steady.exceeds_noise() and not steady.exceeds_noise(margin=0.06)
    assert not stats.paired_difference([0.95, 0.96], [0.90, 0.90]).exceeds_noise()


def test_format_prints_mean_plus_minus_se_and_seeds():
    assert stats.MeanSE(0.04, 0.006, 3).format(scale=100, unit=" pt") == "+4.0 ± 0.6 pt (3 seeds)"
    assert str(stats.MeanSE(-0.5, 0.25, 5)) == "-0.500 ± 0.250 (5 seeds)"


@pytest.mark.parametrize("values, message",
                         [([1.0], "≥ 2"), ([[1.0, 2.0]], "1-D"), ([1.0, float("nan")], "non-finite")])
def test_bad_input_is_named(values, message):
    with pytest.raises(ValueError, match=message):
        stats.mean_se(values)


def test_arms_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="one value per seed"):
        stats.paired_difference([1.0, 2.0, 3.0], [1.0, 2.0])


def test_noise_label_grades_the_gap_in_standard_errors():
    assert stats.MeanSE(0.5, 1.0, 3).noise_label() == "0.50 s.e. from zero: within the seed noise"
    assert "weak evidence with 3 seeds" in stats.MeanSE(-1.5, 1.0, 3).noise_label()
    assert stats.MeanSE(3.0, 1.0, 5).noise_label() == "3.0 s.e. from zero: beyond the seed noise"
    assert stats.MeanSE(1.0, 0.0, 3).noise_label() == "no spread over the seeds"
