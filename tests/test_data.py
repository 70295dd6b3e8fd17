import numpy as np
import pytest

from ltlib.errors import ConfigError
from ltlib.data import find_dataset, long_tail_counts, long_tail_indices, make_long_tailed

from conftest import needs_fmnist


@pytest.mark.parametrize("classes,ir,total", [(10, 100, 12406), (10, 50, 13996), (10, 10, 20431),
                                               (100, 100, 10847), (100, 50, 12608), (100, 10, 19573)])
def test_cifar_lt_totals(classes, ir, total):
    n_max = 50000 / classes
    assert sum(long_tail_counts(n_max, classes, ir)) == total


def test_cifar10_ir100_per_class():
    assert long_tail_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_indices_match_global_numpy_protocol():
    labels = np.repeat(np.arange(5), 40)
    counts = long_tail_counts(40, 5, 10)
    np.random.seed(0)
    expected = []
    for c, n in enumerate(counts):
        idx = np.where(labels == c)[0]
        np.random.shuffle(idx)
        expected.append(idx[:n])
    assert np.array_equal(long_tail_indices(labels, counts, 0), np.concatenate(expected))


def test_missing_dataset_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr("ltlib.data.search_roots", lambda root: [tmp_path])
    with pytest.raises(ConfigError, match="looked in.*To get it"):
        find_dataset("cifar100")


def test_unknown_dataset_name():
    with pytest.raises(ConfigError, match="did you mean 'fmnist'"):
        make_long_tailed("fmnst", 100)


@needs_fmnist
def test_fmnist_lt_total():
    lt = make_long_tailed("fmnist", 100, val_per_class=0)
    assert sum(lt.counts) == len(lt.train) == 14886
    lt = make_long_tailed("fmnist", 100, val_per_class=20)   # the head class lends its 20 held-out images
    assert lt.counts[0] == 5980 and lt.counts[1:] == long_tail_counts(6000, 10, 100)[1:]
    assert len(lt.val) == 200
    assert lt.in_channels == 1 and len(lt.test) == 10000
    assert not set(lt.train_indices) & set(lt.val_indices)


def test_image_folder(tiny_folder):
    lt = make_long_tailed(str(tiny_folder), 10, val_per_class=5)
    assert lt.counts == [55] + long_tail_counts(60, 4, 10)[1:]
    assert lt.train.x.dtype.is_floating_point is False and lt.train.x.shape[1:] == (3, 8, 8)
    assert len(lt.val) == 20
