"""Learning curves of one (dataset, preset) group: accuracy vs labeled-set size, mean +- std band
over distinct trials, one line per method."""
from __future__ import annotations

from fdal.training.analysis import summarize


def plot_learning_curves(results, path, title: str = "") -> str:
    """Write a PNG to `path` and return it. Records of more than one (dataset, preset) raise
    ValueError: split them first (fdal.training.results.split_groups)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(results)
    if not summary:
        raise ValueError("no results to plot")
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    try:
        for method, by_n in summary.items():
            ns = sorted(by_n)
            mean = [100 * by_n[n][0] for n in ns]
            std = [100 * by_n[n][1] for n in ns]
            trials = min(by_n[n][2] for n in ns)
            (line,) = ax.plot(ns, mean, marker="o", label=f"{method} ({trials} trial{'s' * (trials > 1)})")
            ax.fill_between(ns, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("labeled images")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title or "learning curves (mean ± std over trials)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, metadata={"Software": None})  # no version string: same input, same bytes
    finally:
        plt.close(fig)
    return str(path)
