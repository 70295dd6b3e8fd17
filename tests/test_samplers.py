import pytest
import torch

from ltlib.samplers import SAMPLERS, build_sampler, shard_batches

COUNTS = [500, 200, 80, 30, 10]
LABELS = torch.repeat_interleave(torch.arange(5), torch.tensor(COUNTS))


def freq(name, **kw):
    s = build_sampler(name, LABELS, 5)
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([s.indices(g, e, 10, 40) for e in range(20)])
    return torch.bincount(LABELS[draws], minlength=5).double() / len(draws)


def test_ib_is_a_permutation():
    idx = build_sampler("ib", LABELS, 5).indices(torch.Generator().manual_seed(0))
    assert sorted(idx.tolist()) == list(range(len(LABELS)))


@pytest.mark.parametrize("name,q", [("sqrt", 0.5), ("cb", 0.0), ("cr", -1.0)])
def test_class_power_frequencies(name, q):
    n = torch.tensor(COUNTS, dtype=torch.double)
    expected = n ** q / (n ** q).sum()
    assert torch.allclose(freq(name), expected, atol=0.01)


def test_reversed_equals_cr_law():
    s1, s2 = build_sampler("reversed", LABELS, 5), build_sampler("cr", LABELS, 5)
    assert torch.allclose(s1.class_probs(0, 1), s2.class_probs(0, 1))


def test_progressive_interpolates():
    s = build_sampler("pb", LABELS, 5)
    n = torch.tensor(COUNTS, dtype=torch.double)
    assert torch.allclose(s.class_probs(0, 10), n / n.sum())
    assert torch.allclose(s.class_probs(10, 10), torch.full((5,), 0.2, dtype=torch.double))


def test_class_aware_batches_have_k_classes_of_z():
    s = build_sampler("class_aware", LABELS, 5)
    idx = s.indices(torch.Generator().manual_seed(0), batch_size=8)
    first = LABELS[idx[:8]]
    assert len(set(first.tolist())) == 2 and all((first == c).sum() == 4 for c in first.unique())
    assert torch.allclose(freq("class_aware"), torch.full((5,), 0.2, dtype=torch.double), atol=0.02)


def test_seeded_and_complete_registry():
    for name in SAMPLERS:
        s = build_sampler(name, LABELS, 5)
        a = s.indices(torch.Generator().manual_seed(3), 1, 4, 16)
        b = s.indices(torch.Generator().manual_seed(3), 1, 4, 16)
        assert torch.equal(a, b) and len(a) == len(LABELS)


def test_shards_partition_the_epoch():
    idx = torch.randperm(100)
    parts = [shard_batches(idx, 16, r, 2) for r in range(2)]
    assert sorted(torch.cat(parts).tolist()) == sorted(idx.tolist())


def _runs_of_class(name, c, batch_size=40):
    """The images of class c in the order one epoch draws them."""
    s = build_sampler(name, LABELS, 5)
    idx = s.indices(torch.Generator().manual_seed(1), 0, 1, batch_size)
    return idx[LABELS[idx] == c].tolist()


@pytest.mark.parametrize("name", ["cr", "cbs", "class_aware"])
def test_without_replacement_within_a_class(name):
    """class-reversed Alg. 1 / To balance Alg. 1: the next image of a per-class shuffled list, reshuffled when used up."""
    for c, n in enumerate(COUNTS):
        drawn = _runs_of_class(name, c)
        for start in range(0, len(drawn), n):                 # every pass over the class is a permutation of it
            chunk = drawn[start:start + n]
            assert len(set(chunk)) == len(chunk), (name, c, start)
            if len(chunk) == n:
                assert sorted(chunk) == torch.nonzero(LABELS == c).flatten().tolist()
    tail = _runs_of_class(name, 4)
    assert len(tail) > 2 * COUNTS[4] and tail[:COUNTS[4]] != tail[COUNTS[4]:2 * COUNTS[4]]   # reshuffled


@pytest.mark.parametrize("name", ["cb", "reversed", "sqrt", "pb"])
def test_with_replacement_where_the_papers_say_so(name):
    """BBN's RS and reversed sampler (§3, §4.2) and the Eq. 1 samplers draw uniformly with replacement."""
    assert not build_sampler(name, LABELS, 5).without_replacement

