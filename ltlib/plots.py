"""Figures for the notebooks (seaborn/matplotlib); every function returns a Figure."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ltlib.metrics import shot_groups



def _subplots(*args, **kwargs) -> tuple[plt.Figure, Any]:
    """plt.subplots under the study's seaborn style (set per figure, never globally)."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        return plt.subplots(*args, **kwargs)

# Axis labels in words for the history columns.
LABELS = {"test_acc": "test accuracy (%)", "val_acc": "held-out accuracy (%)", "train_acc": "training accuracy (%)",
          "loss": "training loss", "lr": "learning rate", "head": "head-third accuracy (%)",
          "mid": "mid-third accuracy (%)", "tail": "tail-third accuracy (%)"}


def palette(n: int) -> list:
    """n distinct colours: tab10 up to 10 lines, tab20 up to 20, evenly spaced hues beyond (never a repeat)."""
    return sns.color_palette("tab10" if n <= 10 else "tab20" if n <= 20 else "husl", n)


def _legend_outside(ax: plt.Axes, **kw: Any) -> None:
    """The legend beside the axes, never over the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8, **kw)


GROUP_COLORS = {"many": "#4C72B0", "medium": "#DD8452", "few": "#C44E52",
                "head": "#4C72B0", "mid": "#DD8452", "tail": "#C44E52"}


def class_counts(profiles: dict[str, Sequence[int]], log: bool = True) -> plt.Figure:
    """Training images per class for several long-tailed profiles (one line each)."""
    fig, ax = _subplots(figsize=(7, 3.5))
    for name, counts in profiles.items():
        ax.plot(range(len(counts)), counts, marker="o", ms=3, label=name)
    ax.axhline(100, color="grey", ls="--", lw=0.8)
    ax.axhline(20, color="grey", ls=":", lw=0.8)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="class index (sorted by size)", ylabel="training images", title="Long-tailed profiles")
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def sampler_draws(draws: pd.DataFrame) -> plt.Figure:
    """Images drawn per class in one epoch, one line per sampler (columns: sampler, class, draws)."""
    fig, ax = _subplots(figsize=(7, 3.5))
    sns.lineplot(draws, x="class", y="draws", hue="sampler", marker="o", ax=ax)
    ax.set_yscale("log")
    ax.set(title="Images drawn per class in one epoch", xlabel="class (0 = head)", ylabel="draws")
    fig.tight_layout()
    return fig


def per_class_accuracy(results: dict[str, Sequence[Optional[float]]], counts: Sequence[int]) -> plt.Figure:
    """Per-class test accuracy against training-class size, one line per method."""
    fig, ax = _subplots(figsize=(7, 3.5))
    order = np.argsort(-np.asarray(counts), kind="stable")
    ax.set_prop_cycle(color=palette(len(results)))
    for name, acc in results.items():
        a = np.array([np.nan if v is None else v for v in acc], dtype=float)
        ax.plot(range(len(order)), 100 * a[order], marker="o", ms=3, label=name)
    ax.set(xlabel="class, largest first", ylabel="test accuracy (%)", title="Per-class accuracy vs class size")
    ax2 = ax.twinx()
    ax2.bar(range(len(order)), np.asarray(counts)[order], alpha=0.15, color="grey")
    ax2.set_yscale("log")
    ax2.set_ylabel("training images", color="grey")
    ax2.grid(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.12, 1.0), frameon=False, fontsize=8)   # right of the twin axis
    fig.tight_layout()
    return fig


def history(histories: dict[str, pd.DataFrame], metric: str = "test_acc") -> plt.Figure:
    """A metric over epochs for several runs."""
    fig, ax = _subplots(figsize=(7, 3.2))
    ax.set_prop_cycle(color=palette(len(histories)))
    for name, h in histories.items():
        if metric in h:
            d = h[["epoch", metric]].dropna()                   # runs evaluated every k epochs: their points only
            ax.plot(d["epoch"], 100 * d[metric] if "acc" in metric else d[metric], label=name,
                    marker="o" if len(d) < len(h) else None, ms=3)
    label = LABELS.get(metric, metric.replace("_", " "))
    ax.set(xlabel="epoch", ylabel=label, title=f"{label[0].upper()}{label[1:].replace(' (%)', '')} over epochs")
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def heatmap(table: pd.DataFrame, title: str, fmt: str = ".1f", cmap: str = "rocket_r",
            xlabel: str = "", ylabel: str = "", ax: Optional[plt.Axes] = None, vmin: Optional[float] = None,
            vmax: Optional[float] = None, cbar: bool = True, cbar_label: str = "") -> plt.Figure:
    """Annotated heatmap of a small table (e.g. the 3x3 diagnosis grid), with its colour bar."""
    if ax is None:
        rows, cols = table.shape
        fig, ax = _subplots(figsize=(max(4.2, 0.62 * cols + 2.4), max(3.6, 0.36 * rows + 1.6)))
    else:
        fig = ax.figure
    sns.heatmap(table.astype(float), annot=True, fmt=fmt, cmap=cmap, vmin=vmin, vmax=vmax, cbar=cbar, ax=ax,
                cbar_kws={"label": cbar_label} if cbar else None)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def weight_norms(norms: dict[str, Sequence[float]], counts: Sequence[int]) -> plt.Figure:
    """Per-class classifier weight norms (classes sorted by size), one line per classifier."""
    fig, ax = _subplots(figsize=(7, 3.2))
    order = np.argsort(-np.asarray(counts), kind="stable")
    ax.set_prop_cycle(color=palette(len(norms)))
    for name, n in norms.items():
        n = np.asarray(n, dtype=float)
        ax.plot(range(len(order)), n[order] / n.max(), marker="o", ms=3, label=name)
    ax.set(xlabel="class, largest first", ylabel="weight norm / largest", title="Classifier weight norms")
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def group_bars(table: pd.DataFrame, groups: Sequence[str] = ("head", "mid", "tail"),
               title: str = "Accuracy per class group") -> plt.Figure:
    """Grouped bars: methods (index) x class groups (columns, fractions)."""
    long = (100 * table[list(groups)]).reset_index(names="method").melt("method", var_name="group",
                                                                         value_name="accuracy (%)")
    fig, ax = _subplots(figsize=(max(5, 0.9 * len(table) + 2), 3.4))
    sns.barplot(long, x="method", y="accuracy (%)", hue="group", ax=ax,
                palette=[GROUP_COLORS.get(g, None) for g in groups])
    ax.set(title=title, xlabel="", ylim=(0, 100))
    ax.tick_params(axis="x", rotation=30)
    for t in ax.get_xticklabels():
        t.set_horizontalalignment("right")
    ax.legend(title="group", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)   # never over a bar
    fig.tight_layout()
    return fig


def group_names(counts: Sequence[int]) -> dict[int, str]:
    """class -> 'head'/'mid'/'tail'."""
    return {c: g for g in ("head", "mid", "tail") for c in shot_groups(counts)[g]}


def heatmaps(tables: dict[str, pd.DataFrame], fmt: str = ".1f", cmap: str = "rocket_r", xlabel: str = "",
             ylabel: str = "", suptitle: str = "", cbar_label: str = "") -> plt.Figure:
    """Several annotated heatmaps side by side (e.g. the diagnosis grid overall and on the tail), on one colour
    scale with one colour bar, so equal colours mean equal values across panels."""
    fig, axes = _subplots(1, len(tables), figsize=(4.0 * len(tables) + 0.8, 3.6), squeeze=False)
    values = np.concatenate([t.to_numpy(dtype=float).ravel() for t in tables.values()]) if tables else np.zeros(1)
    lo, hi = (float(np.nanmin(values)), float(np.nanmax(values))) if np.isfinite(values).any() else (None, None)
    for i, (ax, (title, table)) in enumerate(zip(axes[0], tables.items())):
        last = i == len(tables) - 1
        heatmap(table, title, fmt=fmt, cmap=cmap, xlabel=xlabel, ylabel=ylabel, ax=ax, vmin=lo, vmax=hi,
                cbar=last, cbar_label=cbar_label)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def tsne_panels(embeddings: dict[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str],
                counts: Sequence[int]) -> plt.Figure:
    """One t-SNE panel per method on the same images; one colour per class everywhere (legend: class, group)."""
    classes = sorted(set(int(c) for c in labels))
    palette = dict(zip(classes, sns.color_palette("tab10" if len(classes) <= 10 else "husl", len(classes))))
    groups = group_names(counts)
    n = len(embeddings)
    cols = min(3, max(1, n))
    rows = -(-n // cols)
    fig, axes = _subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), squeeze=False)
    for ax, (name, y2) in zip(axes.flat, embeddings.items()):
        for c in classes:
            m = labels == c
            ax.scatter(y2[m, 0], y2[m, 1], s=5, alpha=0.7, color=palette[c],
                       label=f"{class_names[c]} ({groups.get(c, '')}, n={counts[c]})")
        ax.set(title=name, xticks=[], yticks=[])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=3)
    fig.suptitle("t-SNE of penultimate features (same test images, same colours)")
    fig.tight_layout()
    return fig


def bias_variance(table: pd.DataFrame) -> plt.Figure:
    """Stacked bias² + variance bars per method (columns method, group, bias2, variance), one panel per group."""
    groups = list(dict.fromkeys(table["group"]))
    fig, axes = _subplots(1, len(groups), figsize=(3.0 * len(groups) + 1, 3.2), sharey=True, squeeze=False)
    for ax, g in zip(axes.flat, groups):
        t = table[table["group"] == g]
        x = np.arange(len(t))
        ax.bar(x, t["bias2"], color="#4C72B0", label="bias²")
        ax.bar(x, t["variance"], bottom=t["bias2"], color="#DD8452", label="variance")
        ax.set_xticks(x, t["method"], rotation=30)
        ax.set(title=g, ylabel="0-1 loss" if g == groups[0] else "")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Bias² and variance of the 0-1 loss over seeds")
    fig.tight_layout()
    return fig


def event_scatter(per_sample: pd.DataFrame, class_names: Sequence[str], counts: Sequence[int],
                  x: str = "correct", y: str = "forgotten", max_points: int = 600, seed: int = 0) -> plt.Figure:
    """Cumulative learned events (x) vs forgetting events (y) of training samples, one panel per class."""
    classes = sorted(per_sample["label"].unique())
    cols = 5
    rows = -(-len(classes) // cols)
    fig, axes = _subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), sharex=True, sharey=True, squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, c in zip(axes.flat, classes):
        d = per_sample[per_sample["label"] == c]
        if len(d) > max_points:
            d = d.iloc[np.sort(rng.choice(len(d), max_points, replace=False))]
        jx, jy = rng.uniform(-0.25, 0.25, len(d)), rng.uniform(-0.25, 0.25, len(d))
        ax.scatter(d[x] + jx, d[y] + jy, s=4, alpha=0.4, color=GROUP_COLORS.get(group_names(counts).get(c), "grey"))
        ax.set_title(f"{class_names[c]} (n={counts[c]})", fontsize=9)
    for ax in list(axes.flat)[len(classes):]:
        ax.axis("off")
    fig.supxlabel("cumulative learned events L (epochs correct)")
    fig.supylabel("forgetting events F")
    fig.tight_layout()
    return fig


def irregularity(tables: dict[str, pd.DataFrame]) -> plt.Figure:
    """Per-class irregularity I_j against class size n_j (log-log), one line per method."""
    fig, ax = _subplots(figsize=(5.5, 3.4))
    ax.set_prop_cycle(color=palette(len(tables)))
    for name, t in tables.items():
        t = t[t["n"] > 0].sort_values("n")
        ax.plot(t["n"], t["irregularity"], marker="o", ms=4, label=name)
    ax.set(xscale="log", yscale="log", xlabel="training images of the class n_j",
           ylabel="irregularity I_j", title="Irregularity vs class size")
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def curves(table: pd.DataFrame, x: str, y: str, hue: str, title: str = "", ylabel: str = "") -> plt.Figure:
    """Lines of y against x, one per value of hue (long table; e.g. BBN's α per epoch for each adaptor)."""
    fig, ax = _subplots(figsize=(6.5, 3.2))
    sns.lineplot(table, x=x, y=y, hue=hue, marker="o", ms=4, ax=ax, palette=palette(table[hue].nunique()))
    ax.set(title=title, ylabel=ylabel or LABELS.get(y, y.replace("_", " ")), xlabel=x.replace("_", " "))
    _legend_outside(ax, title=hue)
    fig.tight_layout()
    return fig


def accuracy_gains(gains: pd.DataFrame, title: str = "Per-class accuracy gain") -> plt.Figure:
    """Bars of per-class gain (points) against each baseline, classes sorted by size (To-balance Fig. 3).

    gains: long table with columns rank (0 = largest class), n_train, baseline, gain.
    """
    fig, ax = _subplots(figsize=(7, 3.4))
    sns.barplot(gains, x="rank", y="gain", hue="baseline", ax=ax, palette=palette(gains["baseline"].nunique()))
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="class, largest first", ylabel="accuracy gain (pts)", title=title)
    sizes = gains.drop_duplicates("rank").sort_values("rank")["n_train"].tolist()
    ax.set_xticks(range(len(sizes)), [str(n) for n in sizes], rotation=90, fontsize=7)
    _legend_outside(ax, title="against")
    fig.tight_layout()
    return fig


def per_class_over_epochs(pc: pd.DataFrame, marks: dict[str, float], title: str = "") -> plt.Figure:
    """Per-class test accuracy over epochs (long table epoch, class, n_train, acc), lines coloured by class
    size, with vertical lines at `marks` (label -> epoch, e.g. the lr drop and the sampler switch)."""
    from matplotlib.colors import LogNorm

    fig, ax = _subplots(figsize=(7, 3.6))
    pc = pc.assign(size=pc["n_train"].astype(int))
    sns.lineplot(pc, x="epoch", y="acc", hue="size", palette="viridis", hue_norm=LogNorm(), marker="o", ms=3,
                 legend="full", ax=ax, units="class", estimator=None)
    for i, (name, e) in enumerate(marks.items()):
        ax.axvline(e, color="grey", ls="--" if i == 0 else ":", lw=1)
        ax.text(e, 101, name, fontsize=7, ha="center", va="bottom", color="grey")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=title, ylim=(0, 108))
    ax.legend(title="train images", fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    fig.tight_layout()
    return fig


GROUP_COLORS_OVERALL = {"overall": "#555555", **GROUP_COLORS}


def leaderboard(lb: pd.DataFrame, groups: Sequence[str] = ("acc", "head", "mid", "tail"),
                title: str = "Leaderboard: test accuracy, mean ± std over seeds") -> plt.Figure:
    """Horizontal grouped bars of a report.leaderboard frame (methods × overall / head / mid / tail, in %),
    best overall on top, error bars = std over seeds (none with one seed); the seed count beside each name."""
    lb = lb.sort_values("acc", ascending=True)
    names = ["overall" if g == "acc" else g for g in groups]
    n, k = len(lb), len(groups)
    fig, ax = _subplots(figsize=(8, 0.42 * max(n, 3) * (1 + 0.15 * k) + 1.2))
    height = 0.8 / k
    y = np.arange(n)
    for i, (g, name) in enumerate(zip(groups, names)):
        pos = y + (k - 1 - i - (k - 1) / 2) * height          # first group drawn on top within each method
        err = lb[f"{g}_std"].to_numpy(dtype=float) if f"{g}_std" in lb else None
        ax.barh(pos, lb[g].to_numpy(dtype=float), height=height, xerr=err, capsize=2,
                color=GROUP_COLORS_OVERALL.get(name), label=name, error_kw={"lw": 0.8})
    ax.set_yticks(y, [f"{m}  (n={int(s)})" for m, s in zip(lb.index, lb["seeds"])])
    ax.set_xlim(0, 100)                                      # bars from 0: lengths compare as values
    ax.set(xlabel="test accuracy (%)", title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def accuracy_vs_count(long: pd.DataFrame, title: str = "Per-class test accuracy against training images") -> plt.Figure:
    """One line per method (at most five) through its classes: test accuracy (%) against the class's training
    images on a log axis, each class named once at the bottom."""
    fig, ax = _subplots(figsize=(8, 4.2))
    methods = list(dict.fromkeys(long["method"]))[:5]
    palette = sns.color_palette("colorblind", len(methods))
    for j, m in enumerate(methods):
        d = long[long["method"] == m].sort_values("training images")
        ax.plot(d["training images"], d["accuracy (%)"], marker=REGIME_MARKERS[j], color=palette[j], lw=1.2,
                ms=5, label=m)
    ax.set_xscale("log")
    ax.set(xlabel="training images of the class (log scale)", ylabel="test accuracy (%)", ylim=(0, 100))
    ax.set_title(title, pad=58)
    one = long.drop_duplicates("class").sort_values("training images")
    top = ax.secondary_xaxis("top")                          # each class named once, above its size
    top.set_xticks(one["training images"].to_numpy(dtype=float), [str(c) for c in one["class"]], rotation=90,
                   fontsize=7)
    top.minorticks_off()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def confusion_grid(matrices: dict[str, np.ndarray], class_names: Sequence[str], cols: int = 4) -> plt.Figure:
    """Row-normalised confusion matrices (row = true class, %), one small panel per method, one colour scale;
    class names on the left column and the bottom row only."""
    n = len(matrices)
    rows = max(1, -(-n // cols))
    size = 2.4 if len(class_names) <= 10 else 3.0
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 2.2, size * rows + 1.2), squeeze=False,
                                 constrained_layout=True)
    names = list(class_names) if len(class_names) <= 10 else []
    for i, (ax, (name, m)) in enumerate(zip(axes.flat, matrices.items())):
        r, c = divmod(i, cols)
        bottom = i + cols >= n
        sns.heatmap(100 * m, vmin=0, vmax=100, cmap="mako_r", cbar=False, square=True, ax=ax,
                    xticklabels=names if (bottom and names) else False,
                    yticklabels=names if (c == 0 and names) else False)
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=7, length=0)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.supxlabel("predicted class")
    fig.supylabel("true class")
    fig.colorbar(plt.cm.ScalarMappable(norm=plt.Normalize(0, 100), cmap="mako_r"), ax=axes, shrink=0.5,
                 label="% of the true class")
    return fig


def claim_panels(long: pd.DataFrame, regimes: Sequence[str], cols: int = 4) -> plt.Figure:
    """One small panel per claim: A − B (percentage points) and its 95 % interval in each regime (x, ladder order),
    0 as a line, the paper's own difference (CIFAR-10-LT IR100) dashed where it has one; markers coloured by the
    outcome. A compound claim shows its weakest comparison (named under the title)."""
    colors = {"reproduced": "#2e7d32", "contradicted": "#c62828", "inconclusive": "#9e9e9e", "not tested": "#dddddd"}
    claims = list(dict.fromkeys(long["claim"]))
    rows = max(1, -(-len(claims) // cols))
    fig, axes = _subplots(rows, cols, figsize=(3.4 * cols, 2.7 * rows), squeeze=False, sharex=True)
    x = np.arange(len(regimes))
    for ax, claim in zip(axes.flat, claims):
        ax.set_xlim(-0.5, len(regimes) - 0.5)                 # a fixed x range: a regime without runs has no point
        d = long[long["claim"] == claim].set_index("regime").reindex(list(regimes))
        diff, lo, hi = (d[c].to_numpy(dtype=float) for c in ("difference", "ci_low", "ci_high"))
        ax.axhline(0, color="#444", lw=0.8)
        ok = np.isfinite(diff) & np.isfinite(lo) & np.isfinite(hi)   # one seed a side: no interval, no bar
        if ok.any():
            ax.errorbar(x[ok], diff[ok], yerr=[diff[ok] - lo[ok], hi[ok] - diff[ok]], fmt="none", ecolor="#777",
                        capsize=3, lw=1)
        ax.scatter(x, diff, c=[colors.get(o, "#999") for o in d["outcome"].fillna("not tested")], zorder=3, s=28)
        paper = d["paper_difference"].dropna()
        if len(paper):
            ax.axhline(float(paper.iloc[0]), color="#1565c0", ls="--", lw=1)
        title = claim if len(claim) <= 48 else claim[:46] + "…"
        part = d["part"].dropna()
        ax.set_title(f"{title}\n{part.iloc[0] if len(part) else ''}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(claims):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xticks(x, list(regimes), rotation=30, ha="right", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("A − B (pp)", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=o) for o, c in colors.items()]
    handles.append(plt.Line2D([], [], color="#1565c0", ls="--", label="paper's A − B (CIFAR-10-LT IR100)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8,
               bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


REGIME_MARKERS = ("o", "s", "^", "D", "*", "v", "P", "X")


def claim_forest(long: pd.DataFrame, regimes: Sequence[str], marks: Optional[Mapping[str, str]] = None,
                 wrap: int = 58) -> plt.Figure:
    """Every claim on one shared axis: a row per claim (its full text; [letter]: rests on the same runs as the
    others with that letter), A − B in points with its 95 % interval per regime (a marker shape and colour each,
    offset within the row), the paper's own A − B (CIFAR-10-LT IR100) as a black tick, 0 as a line. A compound
    claim shows its weakest comparison."""
    import textwrap

    marks = marks or {}
    claims = list(dict.fromkeys(long["claim"]))
    palette = sns.color_palette("colorblind", len(regimes))
    fig, ax = _subplots(figsize=(11, 0.62 * len(claims) + 1.4))
    off = np.linspace(0.28, -0.28, len(regimes)) if len(regimes) > 1 else np.zeros(1)   # the first on top
    for i, claim in enumerate(claims):
        d = long[long["claim"] == claim].set_index("regime").reindex(list(regimes))
        y = len(claims) - 1 - i
        for j, reg in enumerate(regimes):
            diff, lo, hi = (float(d.loc[reg, c]) for c in ("difference", "ci_low", "ci_high"))
            if not np.isfinite(diff):
                continue
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [y + off[j]] * 2, color=palette[j], lw=1.3)
            ax.scatter([diff], [y + off[j]], marker=REGIME_MARKERS[j % len(REGIME_MARKERS)], color=palette[j], s=30,
                       zorder=3, edgecolor="white", linewidth=0.4)
        paper = d["paper_difference"].dropna()
        if len(paper):
            ax.scatter([float(paper.iloc[0])], [y], marker="|", color="black", s=260, zorder=4, linewidth=2)
    ax.axvline(0, color="#444", lw=0.9)
    parts = long.drop_duplicates("claim").set_index("claim")["part"]
    labels = [textwrap.fill(f"{c} · {parts[c]}" + (f"  [{marks[c]}]" if c in marks else ""), wrap) for c in claims]
    ax.set_yticks(range(len(claims)), labels[::-1], fontsize=8)
    ax.set_ylim(-0.6, len(claims) - 0.4)
    ax.set_xlabel("A − B, percentage points (> 0: A better; the paper claims A better unless the claim says "
                  "otherwise)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    handles = [plt.Line2D([], [], marker=REGIME_MARKERS[j % len(REGIME_MARKERS)], color=palette[j], ls="-",
                          label=reg) for j, reg in enumerate(regimes)]
    handles.append(plt.Line2D([], [], marker="|", color="black", ls="", markersize=14,
                              label="paper's A − B (CIFAR-10-LT IR100)"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), 6),
              frameon=False, fontsize=8)                      # on top: read with the first rows
    fig.tight_layout()
    return fig
