"""Small statistics over seeds, in one place: mean ± std, its display string, rank / linear correlation (scipy.stats),
the Welch t interval and test of a difference of means, Holm's correction. A leaf module (numpy, scipy)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from ltlib.errors import ConfigError


def _clean(values: Iterable[float]) -> np.ndarray:
    """A 1-D float array of the values without NaN (None counts as NaN)."""
    x = np.array([np.nan if v is None else v for v in values], dtype=float).ravel()
    return x[~np.isnan(x)]


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, std with ddof=1, n) over the non-NaN values; mean is NaN for n = 0, std NaN for n < 2."""
    x = _clean(values)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n >= 2 else math.nan
    return mean, std, n


def _isnan(x: Optional[float]) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x))


def fmt_mean_std(mean: Optional[float], std: Optional[float] = None, n: Optional[int] = None, digits: int = 2) -> str:
    """'76.70 ± 0.41 (n=3)', '76.70 (n=1)', '76.70 ± 0.41', '76.70', or '–' for a missing mean."""
    if _isnan(mean):
        return "–"
    s = f"{mean:.{digits}f}"
    if not _isnan(std):
        s += f" ± {std:.{digits}f}"
    return s if n is None else f"{s} (n={int(n)})"


def _pairs(a: Iterable[float], b: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (a_i, b_i) where neither is NaN; a and b must have the same length."""
    x = np.array([np.nan if v is None else v for v in a], dtype=float).ravel()
    y = np.array([np.nan if v is None else v for v in b], dtype=float).ravel()
    if len(x) != len(y):
        raise ConfigError(f"correlation needs two sequences of the same length, got {len(x)} and {len(y)}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _corr(x: np.ndarray, y: np.ndarray, method: str = "pearson") -> float:
    """scipy.stats' Pearson r or Spearman ρ of two clean arrays; NaN when either has zero variance."""
    from scipy import stats

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    return float(fn(x, y)[0])


def pearson(a: Iterable[float], b: Iterable[float]) -> float:
    """Pearson's r over the non-NaN pairs; NaN with fewer than 2 pairs or zero variance."""
    x, y = _pairs(a, b)
    return _corr(x, y, "pearson") if len(x) >= 2 else math.nan


def spearman(a: Iterable[float], b: Iterable[float]) -> float:
    """Spearman's ρ (Pearson's r of average ranks) over the non-NaN pairs; NaN with fewer than 3 pairs or zero variance."""
    x, y = _pairs(a, b)
    return _corr(x, y, "spearman") if len(x) >= 3 else math.nan


@dataclass
class Interval:
    """A difference of means mean(a) − mean(b) and its confidence interval [lo, hi]."""

    diff: float
    lo: float
    hi: float
    df: float
    n_a: int
    n_b: int
    level: float = 0.95
    method: str = "Welch t"

    @property
    def determined(self) -> bool:
        """True when the interval is finite (both sides have at least 2 values)."""
        return math.isfinite(self.lo) and math.isfinite(self.hi)


def welch_p(a: Iterable[float], b: Iterable[float]) -> float:
    """Two-sided p-value of Welch's t test of mean(a) = mean(b) (scipy.stats.ttest_ind, equal_var=False): below
    0.05 exactly when welch_interval's 95 % interval excludes 0. NaN with < 2 values on a side; with zero variance
    on both sides 0 for a difference and 1 for none."""
    x, y = _clean(a), _clean(b)
    if len(x) < 2 or len(y) < 2:
        return math.nan
    if float(x.var(ddof=1)) + float(y.var(ddof=1)) == 0:
        return 0.0 if x.mean() != y.mean() else 1.0
    from scipy.stats import ttest_ind

    return float(ttest_ind(x, y, equal_var=False).pvalue)


def holm(p: Iterable[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate) of a family of p-values; NaN stays NaN and does
    not count in the family size."""
    p = np.array([np.nan if v is None else v for v in p], dtype=float)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def welch_interval(a: Iterable[float], b: Iterable[float], level: float = 0.95) -> Interval:
    """Welch t interval of mean(a) − mean(b) (Welch–Satterthwaite df), NaN values ignored.

    Either side with < 2 values: (−inf, +inf), undetermined (diff NaN if a side is empty). Zero variance on both
    sides: lo = hi = diff.
    """
    if not 0 < level < 1:
        raise ConfigError(f"level must be between 0 and 1, got {level}")
    x, y = _clean(a), _clean(b)
    na, nb = len(x), len(y)
    diff = float(x.mean() - y.mean()) if na and nb else math.nan
    if na < 2 or nb < 2:
        return Interval(diff, -math.inf, math.inf, math.nan, na, nb, level)
    va, vb = float(x.var(ddof=1)) / na, float(y.var(ddof=1)) / nb
    se2 = va + vb
    if se2 == 0:
        return Interval(diff, diff, diff, math.inf, na, nb, level)
    from scipy.stats import t

    df = se2 ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    half = float(t.ppf(0.5 + level / 2, df)) * math.sqrt(se2)
    return Interval(diff, diff - half, diff + half, float(df), na, nb, level)
