"""t-SNE and feature quality (notebook 70, docs/protocol.md §5): a fixed image subset, the embedding, k-NN accuracy
and silhouette per class group, and the notebook's reading."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ltlib.analysis import new_numbers
from ltlib.claims import Markdown
from ltlib.metrics import thirds


def spread_classes(counts: Sequence[int], k: int = 10) -> list[int]:
    """k classes spread evenly over the frequency order (all classes when there are <= k)."""
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    if len(order) <= k:
        return sorted(order)
    return sorted(order[i] for i in np.linspace(0, len(order) - 1, k).round().astype(int))


def fixed_subset(labels: np.ndarray, classes: Sequence[int], per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` images of each class (seeded, sorted by class): the same images for every method."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    idx = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        idx.append(np.sort(rng.choice(pool, min(per_class, len(pool)), replace=False)))
    return np.concatenate(idx) if idx else np.zeros(0, dtype=int)


def tsne_embed(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (sklearn, PCA init) of standardised features."""
    from sklearn.manifold import TSNE

    from threadpoolctl import threadpool_limits

    f = (features - features.mean(0)) / (features.std(0) + 1e-8)
    perplexity = min(perplexity, max(2.0, (len(f) - 1) / 3))
    with threadpool_limits(1):  # OpenMP threads beside torch's oversubscribe small CPUs (10x slower)
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(f)


def feature_quality(features: np.ndarray, labels: np.ndarray, counts: Sequence[int], k: int = 10,
                    seed: int = 0) -> pd.DataFrame:
    """k-NN accuracy (5-fold, cosine) and silhouette score (cosine) of features, overall and per head/mid/tail.

    Both are computed on the features, not the t-SNE picture; per group = over the images of its classes.
    """
    from sklearn.metrics import silhouette_samples
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    folds = min(5, int(np.bincount(labels).max(initial=0)), int(np.min(np.bincount(labels)[np.unique(labels)])))
    knn = KNeighborsClassifier(n_neighbors=min(k, len(labels) - 1), metric="cosine")
    cv = StratifiedKFold(max(2, folds), shuffle=True, random_state=seed)
    hit = cross_val_predict(knn, features, labels, cv=cv) == labels
    sil = silhouette_samples(features, labels, metric="cosine") if len(np.unique(labels)) > 1 else np.zeros(len(labels))
    groups = thirds(counts)
    rows = []
    for g, cls in groups.items():
        m = np.isin(labels, cls)
        rows.append({"group": g, "images": int(m.sum()),
                     "knn_acc": float(hit[m].mean()) if m.any() else np.nan,
                     "silhouette": float(sil[m].mean()) if m.any() else np.nan})
    return pd.DataFrame(rows).set_index("group")


def tsne_reading(knn: pd.DataFrame, sil: pd.DataFrame, dataset: str) -> Markdown:
    """70's reading: k-NN accuracy / silhouette per method (rows) and group (columns 'all', 'head', 'mid', 'tail')."""
    lines = [f"- Best tail k-NN accuracy: **{knn['tail'].idxmax()}** ({100 * knn['tail'].max():.1f} %), "
             f"worst: {knn['tail'].idxmin()} ({100 * knn['tail'].min():.1f} %)."]
    if "CE" in knn.index:
        lines += [f"- {m} vs CE: tail k-NN {100 * (knn.loc[m, 'tail'] - knn.loc['CE', 'tail']):+.1f} pts, tail silhouette "
                  f"{sil.loc[m, 'tail'] - sil.loc['CE', 'tail']:+.3f}." for m in knn.index if m != "CE"]
    if {"RS", "CE"} <= set(knn.index):
        held = knn.loc["RS", "all"] <= knn.loc["CE", "all"]
        lines.append(f"- BBN §3: re-balancing (RS) hurts the representation — RS overall k-NN "
                     f"{100 * knn.loc['RS', 'all']:.1f} % vs CE {100 * knn.loc['CE', 'all']:.1f} %: "
                     f"{'consistent with' if held else 'not what'} the claim{'' if held else ' predicts'} here (one seed).")
    if "aux" in knn.index:
        others = [m for m in knn.index if m != "aux"]
        best = bool(others) and knn.loc["aux", "all"] >= knn.loc[others, "all"].max()
        lines.append(f"- To balance or not, Fig. 4: the auxiliary-learning model (CBS+RRS) separates the features best — "
                     f"its overall k-NN {100 * knn.loc['aux', 'all']:.1f} % is "
                     f"{'the highest' if best else 'not the highest'} of the methods shown here (one seed).")
    if "cRT" in knn.index and "CE" in knn.index:
        lines.append("- cRT shares the CE backbone, so its features (and picture) equal CE's: classifier retraining "
                     "changes decisions, not the representation.")
    return Markdown("\n".join(lines) + new_numbers(dataset, "the papers show CIFAR / ImageNet-LT pictures only"))

