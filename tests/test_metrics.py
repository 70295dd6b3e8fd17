"""metrics.check_beats_chance: the notebooks' one guard for a result that only holds on a real training set."""
import pytest

from ltlib.metrics import chance_is_a_test, check_beats_chance


def test_beats_chance_is_checked_where_it_is_a_result_and_can_fail():
    assert "(checked)" in check_beats_chance(11.0, [50] * 10, "CE")
    with pytest.raises(AssertionError, match="CE should beat chance"):
        check_beats_chance(9.0, [50] * 10, "CE")
    with pytest.raises(AssertionError):
        check_beats_chance(0.0, [50] * 10, "BBN", epochs=5)


def test_where_chance_is_no_test_it_says_so():
    assert "not checked (50 training images" in check_beats_chance(0.0, [5] * 10, "CE")
    assert "not checked (2 epochs" in check_beats_chance(0.0, [50] * 10, "BBN", epochs=2)
    assert chance_is_a_test([50] * 10) is None
