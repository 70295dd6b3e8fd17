"""Figures for the notebooks (seaborn/matplotlib); every function returns a Figure."""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ltlib.metrics import shot_groups

sns.set_theme(context="notebook", style="whitegrid")
GROUP_COLORS = {"many": "#4C72B0", "medium": "#DD8452", "few": "#C44E52",
                "head": "#4C72B0", "mid": "#DD8452", "tail": "#C44E52"}


def class_counts(profiles: dict[str, Sequence[int]], log: bool = True) -> plt.Figure:
    """Training images per class for several long-tailed profiles (one line each)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, counts in profiles.items():
        ax.plot(range(len(counts)), counts, marker="o", ms=3, label=name)
    ax.axhline(100, color="grey", ls="--", lw=0.8)
    ax.axhline(20, color="grey", ls=":", lw=0.8)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="class index (sorted by size)", ylabel="training images", title="Long-tailed profiles")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sampler_draws(draws: pd.DataFrame) -> plt.Figure:
    """Images drawn per class in one epoch, one line per sampler (columns: sampler, class, draws)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.lineplot(draws, x="class", y="draws", hue="sampler", marker="o", ax=ax)
    ax.set_yscale("log")
    ax.set(title="Images drawn per class in one epoch", xlabel="class (0 = head)", ylabel="draws")
    fig.tight_layout()
    return fig


def per_class_accuracy(results: dict[str, Sequence[Optional[float]]], counts: Sequence[int]) -> plt.Figure:
    """Per-class test accuracy against training-class size, one line per method."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    order = np.argsort(-np.asarray(counts), kind="stable")
    for name, acc in results.items():
        a = np.array([np.nan if v is None else v for v in acc], dtype=float)
        ax.plot(range(len(order)), 100 * a[order], marker="o", ms=3, label=name)
    ax.set(xlabel="class, largest first", ylabel="test accuracy (%)", title="Per-class accuracy vs class size")
    ax2 = ax.twinx()
    ax2.bar(range(len(order)), np.asarray(counts)[order], alpha=0.15, color="grey")
    ax2.set_yscale("log")
    ax2.set_ylabel("training images", color="grey")
    ax2.grid(False)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def history(histories: dict[str, pd.DataFrame], metric: str = "test_acc") -> plt.Figure:
    """A metric over epochs for several runs."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, h in histories.items():
        if metric in h:
            ax.plot(h["epoch"], 100 * h[metric] if "acc" in metric else h[metric], label=name)
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} over epochs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def heatmap(table: pd.DataFrame, title: str, fmt: str = ".1f", cmap: str = "rocket_r",
            xlabel: str = "", ylabel: str = "", ax: Optional[plt.Axes] = None) -> plt.Figure:
    """Annotated heatmap of a small table (e.g. the 3x3 diagnosis grid)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
    else:
        fig = ax.figure
    sns.heatmap(table.astype(float), annot=True, fmt=fmt, cmap=cmap, cbar=False, ax=ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def weight_norms(norms: dict[str, Sequence[float]], counts: Sequence[int]) -> plt.Figure:
    """Per-class classifier weight norms (classes sorted by size), one line per classifier."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    order = np.argsort(-np.asarray(counts), kind="stable")
    for name, n in norms.items():
        n = np.asarray(n, dtype=float)
        ax.plot(range(len(order)), n[order] / n.max(), marker="o", ms=3, label=name)
    ax.set(xlabel="class, largest first", ylabel="||w_c|| / max", title="Classifier weight norms")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def group_bars(table: pd.DataFrame, groups: Sequence[str] = ("head", "mid", "tail"),
               title: str = "Accuracy per class group") -> plt.Figure:
    """Grouped bars: methods (index) x class groups (columns, fractions)."""
    long = (100 * table[list(groups)]).reset_index(names="method").melt("method", var_name="group",
                                                                         value_name="accuracy (%)")
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(table) + 2), 3.4))
    sns.barplot(long, x="method", y="accuracy (%)", hue="group", ax=ax,
                palette=[GROUP_COLORS.get(g, None) for g in groups])
    ax.set(title=title, xlabel="")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def group_names(counts: Sequence[int]) -> dict[int, str]:
    """class -> 'head'/'mid'/'tail'."""
    return {c: g for g in ("head", "mid", "tail") for c in shot_groups(counts)[g]}


def heatmaps(tables: dict[str, pd.DataFrame], fmt: str = ".1f", cmap: str = "rocket_r", xlabel: str = "",
             ylabel: str = "", suptitle: str = "") -> plt.Figure:
    """Several annotated heatmaps side by side (e.g. the diagnosis grid overall and on the tail)."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.0 * len(tables), 3.6), squeeze=False)
    for ax, (title, table) in zip(axes[0], tables.items()):
        heatmap(table, title, fmt=fmt, cmap=cmap, xlabel=xlabel, ylabel=ylabel, ax=ax)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
