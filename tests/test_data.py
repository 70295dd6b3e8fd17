import numpy as np
import pytest
import torch

from ltlib import data as D
from ltlib.errors import ConfigError
from ltlib.data import find_dataset, long_tail_counts, long_tail_indices, load_dataset, make_long_tailed

from conftest import needs_fmnist
from fake_cifar import write_cifar


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


CIFAR_LT = [(10, 100, 12406), (10, 50, 13996), (10, 10, 20431),
            (100, 100, 10847), (100, 50, 12608), (100, 10, 19573)]


def _balanced(num_classes: int, per_class: int) -> D.ArrayData:
    """A balanced training set with the real per-class counts; 1x1 images keep it tiny."""
    y = torch.from_numpy(np.random.RandomState(1).permutation(np.repeat(np.arange(num_classes), per_class)))
    return D.ArrayData(torch.zeros(len(y), 3, 1, 1, dtype=torch.uint8), y, [str(c) for c in range(num_classes)])


@pytest.mark.parametrize("classes,ir,total", CIFAR_LT)
def test_built_cifar_lt_training_sets_have_the_published_sizes(classes, ir, total, monkeypatch):
    """The BUILT training set (after the held-out split) keeps every image of §1.1; held-out images are unused ones."""
    name = "cifar10" if classes == 10 else "cifar100"
    full = _balanced(classes, 50000 // classes)
    monkeypatch.setattr(D, "load_dataset", lambda n, root=None: (full, _balanced(classes, 2)))
    lt = make_long_tailed(name, ir)
    per_class = long_tail_counts(50000 / classes, classes, ir)
    assert len(lt.train) == sum(lt.counts) == total
    assert lt.counts == per_class == np.bincount(lt.train.y.numpy(), minlength=classes).tolist()
    assert not set(lt.train_indices.tolist()) & set(lt.val_indices.tolist())
    spare = [50000 // classes - n for n in per_class]          # unused images per class
    assert np.bincount(lt.val.y.numpy(), minlength=classes).tolist() == [min(20, s) for s in spare]
    assert lt.val_classes == sum(s > 0 for s in spare)


def test_cifar_pickles_load_and_build(tmp_path):
    """The CIFAR loader on pickle folders written here (CIFAR-10 and -100 layouts), through make_long_tailed."""
    write_cifar(tmp_path, 10, 30, 4)
    write_cifar(tmp_path, 100, 6, 2)
    train, test = load_dataset("cifar10", str(tmp_path))
    assert train.x.shape == (300, 3, 32, 32) and len(test) == 40 and train.classes[0] == "class0"
    lt = make_long_tailed("cifar10", 10, data_root=str(tmp_path), val_per_class=5)
    assert lt.counts == long_tail_counts(30, 10, 10) and len(lt.train) == sum(lt.counts)
    assert lt.val_classes == 9 and len(lt.val) == 45       # the head keeps all 30 images
    lt = make_long_tailed("cifar100", 2, data_root=str(tmp_path), val_per_class=2)
    assert lt.counts == long_tail_counts(6, 100, 2) and lt.num_classes == 100 and len(lt.test) == 200


@needs_fmnist
def test_fmnist_lt_total():
    lt = make_long_tailed("fmnist", 100, val_per_class=0)
    assert sum(lt.counts) == len(lt.train) == 14886
    lt = make_long_tailed("fmnist", 100, val_per_class=20)   # the head uses all 6000 images: none held out
    assert lt.counts == long_tail_counts(6000, 10, 100) and sum(lt.counts) == 14886
    assert len(lt.val) == 180 and lt.val_classes == 9 and 0 not in lt.val.y.tolist()
    assert lt.in_channels == 1 and len(lt.test) == 10000
    assert not set(lt.train_indices) & set(lt.val_indices)
    capped = make_long_tailed("fmnist", 100, max_per_class=300)  # a cap leaves spare images in every class
    assert len(capped.val) == 200 and capped.val_classes == 10


def test_image_folder(tiny_folder):
    lt = make_long_tailed(str(tiny_folder), 10, val_per_class=5)
    assert lt.counts == long_tail_counts(60, 4, 10)
    assert lt.train.x.dtype.is_floating_point is False and lt.train.x.shape[1:] == (3, 8, 8)
    assert len(lt.val) == 15 and lt.val_classes == 3


def test_known_class_sizes_are_the_built_ones():
    """A plan sizes CE-balanced from data.known_counts without reading the data: the same numbers as the build."""
    from ltlib.data import known_counts, make_long_tailed

    for ir, cap in ((100, 5000), (10, 300)):
        assert known_counts("fmnist", ir, cap) == list(make_long_tailed("fmnist", ir, cap).counts)
    assert known_counts("cifar10-jpeg", 100, 5000)[::9] == [5000, 50] and known_counts("/some/folder", 100) is None
