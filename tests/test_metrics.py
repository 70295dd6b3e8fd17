"""metrics.beats_chance: the notebooks' one guard for a result that only holds on a real training set."""
from ltlib.metrics import beats_chance


def test_beats_chance_is_checked_only_where_it_is_a_result():
    assert beats_chance(11.0, [50] * 10) and not beats_chance(9.0, [50] * 10)
    assert beats_chance(0.0, [5] * 10)                           # 50 images: too few to expect it
    assert beats_chance(0.0, [50] * 10, epochs=2) and not beats_chance(0.0, [50] * 10, epochs=5)
