"""Samplers of docs/protocol.md §2: whole epochs of indices drawn at once from seeded generators."""
from __future__ import annotations

import torch

from ltlib import registry


class Sampler:
    """Draws one epoch of training indices (N draws) in a single call."""

    without_replacement = False     # within a class: uniform with replacement (False) or cycled shuffled lists

    def __init__(self, labels: torch.Tensor, num_classes: int) -> None:
        self.labels = labels.cpu().long()
        self.num_classes = num_classes
        self.counts = torch.bincount(self.labels, minlength=num_classes)
        self.order = torch.argsort(self.labels, stable=True)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def __len__(self) -> int:
        return len(self.labels)

    def class_probs(self, epoch: int, total_epochs: int) -> torch.Tensor:
        """Probability of drawing each class at this epoch."""
        return self.counts.double() / self.counts.sum()

    def _within(self, cls: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """An image uniformly at random within each drawn class."""
        r = torch.rand(len(cls), generator=gen, dtype=torch.float64)
        n = self.counts[cls]
        pos = self.starts[cls] + torch.minimum((r * n).long(), n - 1)
        return self.order[pos]

    def _cycled(self, cls: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Without replacement within a class: the j-th draw of class c takes the next image of a shuffled list of
        c's images, and a fresh shuffle starts when the list is used up (class-reversed Alg. 1, To balance Alg. 1).

        Drawn in bulk: one permutation per (class, pass over the class) from one sort of random keys. The lists
        start afresh each epoch, so an epoch's draw depends only on its generator (resumes and DDP ranks agree).
        """
        c_n = self.num_classes
        n = self.counts
        m = torch.bincount(cls, minlength=c_n)                            # draws per class
        order = torch.argsort(cls, stable=True)
        rank = torch.empty_like(cls)
        rank[order] = torch.arange(len(cls)) - (torch.cumsum(m, 0) - m)[cls[order]]  # j: draw number within class
        passes = torch.where(m > 0, -(-m // n.clamp_min(1)), torch.zeros_like(m))    # shuffles needed per class
        seg_len = n.repeat_interleave(passes)                              # one segment per (class, pass)
        seg_start = torch.cumsum(seg_len, 0) - seg_len
        seg_id = torch.arange(len(seg_len)).repeat_interleave(seg_len)
        keys = seg_id.double() + torch.rand(len(seg_id), generator=gen, dtype=torch.float64)
        local = torch.argsort(keys) - seg_start[seg_id]                    # a random permutation per segment
        nc = n[cls].clamp_min(1)
        seg = (torch.cumsum(passes, 0) - passes)[cls] + rank // nc
        return self.order[self.starts[cls] + local[seg_start[seg] + rank % nc]]

    def indices(self, gen: torch.Generator, epoch: int = 0, total_epochs: int = 1,
                batch_size: int = 128) -> torch.Tensor:
        """One epoch of N indices: classes from class_probs, then an image of each (with or without replacement)."""
        p = self.class_probs(epoch, total_epochs)
        cls = torch.multinomial(p.float(), len(self), replacement=True, generator=gen)
        return self._cycled(cls, gen) if self.without_replacement else self._within(cls, gen)


class InstanceBalanced(Sampler):
    """q = 1: every image once per epoch, a plain shuffle."""

    def indices(self, gen: torch.Generator, epoch: int = 0, total_epochs: int = 1,
                batch_size: int = 128) -> torch.Tensor:
        """A random permutation of the training set."""
        return torch.randperm(len(self), generator=gen)


class ClassPower(Sampler):
    """p_c proportional to n_c^q (q=1/2 square-root, 0 class-balanced, -1 class-reversed)."""

    def __init__(self, labels: torch.Tensor, num_classes: int, q: float, without_replacement: bool = False) -> None:
        super().__init__(labels, num_classes)
        self.q = q
        self.without_replacement = without_replacement

    def class_probs(self, epoch: int, total_epochs: int) -> torch.Tensor:
        """p_c = n_c^q / sum_j n_j^q (classes with no image get 0)."""
        n = self.counts.double()
        w = torch.where(n > 0, n.clamp_min(1) ** self.q, torch.zeros_like(n))
        return w / w.sum()


class Reversed(Sampler):
    """BBN's reversed sampler: p_c proportional to n_max / n_c (the same law as q = -1)."""

    def class_probs(self, epoch: int, total_epochs: int) -> torch.Tensor:
        """p_c = (n_max/n_c) / sum_j (n_max/n_j)."""
        n = self.counts.double()
        w = torch.where(n > 0, n.max() / n.clamp_min(1), torch.zeros_like(n))
        return w / w.sum()


class ProgressivelyBalanced(Sampler):
    """p(t) = (1 - t/T) p_IB + (t/T) p_CB, t the epoch, T the number of epochs (Decoupling)."""

    def class_probs(self, epoch: int, total_epochs: int) -> torch.Tensor:
        """Interpolate instance-balanced and class-balanced probabilities."""
        n = self.counts.double()
        p_ib = n / n.sum()
        p_cb = (n > 0).double() / (n > 0).sum()
        t = epoch / max(1, total_epochs)
        return (1 - t) * p_ib + t * p_cb


class ClassAware(Sampler):
    """Each batch: k = B/Z classes without replacement, Z images each, the images of a class without replacement
    (cycled shuffled lists): Decoupling's class-aware sampler, To balance Alg. 1 (CBS)."""

    without_replacement = True

    def __init__(self, labels: torch.Tensor, num_classes: int, per_class: int = 4) -> None:
        super().__init__(labels, num_classes)
        self.per_class = per_class

    def class_probs(self, epoch: int, total_epochs: int) -> torch.Tensor:
        """Uniform over the classes present."""
        n = (self.counts > 0).double()
        return n / n.sum()

    def indices(self, gen: torch.Generator, epoch: int = 0, total_epochs: int = 1,
                batch_size: int = 128) -> torch.Tensor:
        """Batches of k classes x Z images, concatenated to N indices."""
        present = torch.nonzero(self.counts > 0).flatten()
        z = min(self.per_class, batch_size)
        k = max(1, min(batch_size // z, len(present)))
        n_batches = -(-len(self) // batch_size)
        keys = torch.rand(n_batches, len(present), generator=gen)
        chosen = present[torch.argsort(keys, dim=1)[:, :k]]            # (batches, k) distinct classes
        cls = chosen.repeat_interleave(z, dim=1).reshape(n_batches, -1)  # (batches, k*z)
        if cls.shape[1] < batch_size:                                     # B not divisible by Z: top up
            extra = torch.multinomial(self.class_probs(epoch, total_epochs).float(),
                                      n_batches * (batch_size - cls.shape[1]), replacement=True, generator=gen)
            cls = torch.cat([cls, extra.view(n_batches, -1)], dim=1)
        cls = cls.flatten()
        return (self._cycled(cls, gen) if self.without_replacement else self._within(cls, gen))[: len(self)]


SAMPLERS = registry.SAMPLERS
SAMPLERS.update({
    "ib": InstanceBalanced,
    "uniform": InstanceBalanced,                                   # BBN Table 3's name for IB
    "sqrt": lambda labels, c, **kw: ClassPower(labels, c, q=0.5),
    "cb": lambda labels, c, **kw: ClassPower(labels, c, q=0.0),
    "balanced": lambda labels, c, **kw: ClassPower(labels, c, q=0.0),  # BBN Table 3's name for CB
    "cr": lambda labels, c, **kw: ClassPower(labels, c, q=-1.0, without_replacement=True),  # class-reversed Alg. 1
    "reversed": Reversed,                                          # BBN §4.2: with replacement
    "pb": ProgressivelyBalanced,
    "class_aware": ClassAware,
    "cbs": ClassAware,
})


def build_sampler(name: str, labels: torch.Tensor, num_classes: int, **kwargs) -> Sampler:
    """Sampler by registry name."""
    return SAMPLERS.build(name, labels, num_classes, **kwargs)


def shard_batches(idx: torch.Tensor, batch_size: int, rank: int, world: int) -> torch.Tensor:
    """This rank's share of one epoch: every world-th batch of the same global draw (DDP)."""
    n_batches = -(-len(idx) // batch_size)
    keep = [idx[b * batch_size:(b + 1) * batch_size] for b in range(rank, n_batches, world)]
    return torch.cat(keep) if keep else idx[:0]


class EpochSampler(torch.utils.data.Sampler):
    """A DataLoader sampler drawing each epoch's indices from an ltlib sampler, seeded by (seed, epoch)."""

    def __init__(self, sampler, seed: int = 0, epochs: int = 1, batch_size: int = 128, rank: int = 0,
                 world: int = 1) -> None:
        self.sampler, self.seed, self.epochs, self.batch_size = sampler, seed, epochs, batch_size
        self.rank, self.world, self.epoch = rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draw __iter__ yields."""
        self.epoch = epoch

    def _draw(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        idx = self.sampler.indices(g, self.epoch, self.epochs, self.batch_size)
        if self.world > 1:
            idx = shard_batches(idx, self.batch_size, self.rank, self.world)
        return idx

    def __iter__(self):
        return iter(self._draw().tolist())

    def __len__(self) -> int:
        return len(self._draw())


# ---- class-irregularity weighted sampling (class-reversed paper, A.4 Eqs. 17-21 and Table 10)

NOT_DRAWN = 255


def learned_forgotten(events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, over the epochs it was drawn: L = Σ acc_t (Eq. 17), F = number of 1→0 transitions (Eq. 18)."""
    ev = torch.as_tensor(events)
    L = torch.zeros(ev.shape[1], dtype=torch.float64)
    F = torch.zeros(ev.shape[1], dtype=torch.float64)
    prev = torch.full((ev.shape[1],), NOT_DRAWN, dtype=torch.uint8)
    for cur in ev.cpu():
        drawn = cur != NOT_DRAWN
        L += (drawn & (cur == 1)).double()
        F += (drawn & (prev == 1) & (cur == 0)).double()
        prev = torch.where(drawn, cur, prev)
    return L, F


def class_irregularity(L: torch.Tensor, F: torch.Tensor, labels: torch.Tensor, num_classes: int
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(||C_j||_F, I_j = ||C_j||_F / n_j) per class, C_j the population covariance of (L, F) over class j (Eqs. 19-21)."""
    fnorm = torch.full((num_classes,), float("nan"), dtype=torch.float64)
    labels = torch.as_tensor(labels).cpu().long()
    for j in range(num_classes):
        m = labels == j
        if m.sum() == 0:
            continue
        x = torch.stack([torch.as_tensor(L)[m].double(), torch.as_tensor(F)[m].double()])
        x = x - x.mean(1, keepdim=True)
        fnorm[j] = torch.linalg.matrix_norm(x @ x.T / m.sum(), "fro")
    n = torch.bincount(labels, minlength=num_classes).double()
    return fnorm, fnorm / n


class IrregularityWeighted(Sampler):
    """p_j ∝ I_j, the class irregularity of the epochs trained so far (class-reversed Table 10: "a data point from
    class j is sampled proportionally to its irregularity", the analogue of CR's p_j ∝ 1/n_j).

    The engine passes the run's own per-sample events of the epochs before the first epoch that uses this sampler
    (`EVENT_SAMPLERS`), so the weights are fixed when the sampler is switched to and are the same on resume.
    A class with I_j = 0 (all its samples at the same (L, F), e.g. never learned) gets the smallest positive I,
    not 0, so that it is still drawn; without events (the first epoch) the weights are CR's 1/n_j.
    """

    def __init__(self, labels: torch.Tensor, num_classes: int, events: torch.Tensor | None = None) -> None:
        super().__init__(labels, num_classes)
        n = self.counts.double()
        w = torch.where(n > 0, 1.0 / n.clamp_min(1), torch.zeros_like(n))
        if events is not None and len(events):
            _, irr = class_irregularity(*learned_forgotten(events), self.labels, num_classes)
            irr = torch.nan_to_num(irr, nan=0.0)
            pos = irr[irr > 0]
            if len(pos):
                w = torch.where(n > 0, irr.clamp_min(float(pos.min())), torch.zeros_like(n))
        self.weights = w / w.sum()

    def class_probs(self, epoch: int, total_epochs: int) -> torch.Tensor:
        """p_j ∝ I_j (fixed when the sampler was built)."""
        return self.weights


SAMPLERS["irregular"] = IrregularityWeighted
EVENT_SAMPLERS = {"irregular"}      # samplers built with `events=`: the run's events of the epochs before their first


def build_run_sampler(name: str, labels: torch.Tensor, num_classes: int, events: torch.Tensor) -> Sampler:
    """The sampler a run's stream uses; `events` (the run's per-sample events of the epochs before this sampler's
    first epoch) go to the samplers that read them (EVENT_SAMPLERS), so the engine treats every sampler alike."""
    return build_sampler(name, labels, num_classes, **({"events": events} if name in EVENT_SAMPLERS else {}))
