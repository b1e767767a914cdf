"""Sparsity reports of a video model: a density table and a per-layer plot.

- `sparsity_table`: the per-group densities of an evaluation (the figures
  of `deltasparse.evaluation.evaluate_clips`) as a short text table.
- `layer_table`: the per-slot densities of
  `deltasparse.evaluation.layer_sparsity` as a text table.
- `plot_layer_sparsity`: a bar plot of the same, one colour per group.
"""

import numpy as np

_PREFIXES = (("delta_density_", "temporal delta"),
             ("act_density_", "activation"))
_GROUP_ORDER = {"in": 0, "conv": 1, "block": 2, "fc": 3}


def _group_sort_key(group):
    digits = "".join(c for c in group if c.isdigit())
    stem = group.rstrip("0123456789")
    return (_GROUP_ORDER.get(stem, 4), stem, int(digits) if digits else -1)


def sparsity_table(figures):
    """A short text table of the per-group densities in `figures`.

    Groups are listed in network order (`in`, `conv1..`, `block1..`, `fc`),
    `all` last; a density is the fraction of nonzero operands (temporal
    deltas for a delta model, activations for an L1 or baseline model),
    sparsity is `1 - density`.

    Args:
        figures: dict with `delta_density_<group>` or `act_density_<group>`
            entries and optionally `op_ratio_counted`,
            `macs_dense_counted`, `macs_effective_counted`. Other entries
            are ignored.

    Returns:
        str, the table; empty when `figures` holds no density.

    Example:
    >>> print(sparsity_table({"delta_density_conv1": 0.25,
    ...                       "delta_density_all": 0.25}))
    Per-group temporal delta density (nonzero fraction; sparsity = 1 - density):
      group        density  sparsity
      conv1         0.2500    0.7500
      all           0.2500    0.7500
    """
    for prefix, label in _PREFIXES:
        rows = [(k[len(prefix):], float(v)) for k, v in figures.items()
                if k.startswith(prefix)]
        if rows:
            break
    else:
        return ""
    rows.sort(key=lambda r: (r[0] == "all", _group_sort_key(r[0])))
    lines = [
        f"Per-group {label} density (nonzero fraction; sparsity = 1 - "
        "density):",
        f"  {'group':<10}{'density':>10}{'sparsity':>10}",
    ]
    lines += [f"  {g:<10}{d:>10.4f}{1 - d:>10.4f}" for g, d in rows]
    ratio = figures.get("op_ratio_counted")
    if ratio is not None:
        factor = f" ({1 / ratio:.1f}x fewer)" if ratio > 0 else ""
        lines.append(
            f"  counted MACs: {float(ratio):.4f} of dense{factor}; per frame "
            f"{float(figures.get('macs_effective_counted', 0)):.4g} of "
            f"{float(figures.get('macs_dense_counted', 0)):.4g}")
    return "\n".join(lines)


def layer_table(stats):
    """A text table of the per-slot densities of `layer_sparsity`.

    Args:
        stats: dict with `names`, `groups` and `density` (one entry per
            slot, model order) and `kind`, as returned by
            `deltasparse.evaluation.layer_sparsity`.

    Returns:
        str, one line per slot in model order.

    Example:
    >>> print(layer_table({"names": ["conv1_delta", "fc_delta"],
    ...                    "groups": ["conv1", "fc"], "density": [0.5, 0.125],
    ...                    "kind": "delta"}))
    Per-layer temporal delta density:
      layer                  group       density
      conv1_delta            conv1        0.5000
      fc_delta               fc           0.1250
    """
    kind = "temporal delta" if stats["kind"] == "delta" else "activation"
    lines = [f"Per-layer {kind} density:",
             f"  {'layer':<22} {'group':<10}{'density':>8}"]
    lines += [f"  {name:<22} {group:<10}{float(d):>8.4f}" for name, group, d
              in zip(stats["names"], stats["groups"], stats["density"])]
    return "\n".join(lines)


def plot_layer_sparsity(stats, path, title):
    """Bar plot of the per-slot densities of one batch of clips.

    Args:
        stats: dict of per-slot figures, as returned by
            `deltasparse.evaluation.layer_sparsity`: `names`, `groups`,
            `density` (one entry per slot, model order), `l0` and `n`
            (nonzero and total operand counts, for the overall line) and
            `kind` (`"delta"` or another slot kind).
        path: str, the PNG file to write.
        title: str, the figure title.

    Returns:
        `path`.

    Example:
    >>> stats = {"names": ["a", "b"], "groups": ["in", "fc"],
    ...          "density": [0.5, 0.1], "l0": [5.0, 1.0], "n": [10.0, 10.0],
    ...          "kind": "delta"}
    >>> plot_layer_sparsity(stats, "layers.png", "demo")  # doctest: +SKIP
    'layers.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(stats["names"])
    density = np.asarray(stats["density"], "float64")
    groups = list(stats["groups"])
    order = list(dict.fromkeys(groups))
    cmap = matplotlib.colormaps["tab20" if len(order) > 10 else "tab10"]
    palette = [cmap(i % cmap.N) for i in range(len(order))]
    colours = [palette[order.index(g)] for g in groups]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.22 * len(names)) + 1.5, 4.5))
    ax.bar(range(len(names)), density, color=colours)
    overall = float(np.sum(stats["l0"]) / max(np.sum(stats["n"]), 1.0))
    ax.axhline(overall, color="black", linestyle="--", linewidth=1,
               label=f"all slots: {overall:.3f}")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    kind = "temporal delta" if stats["kind"] == "delta" else "activation"
    ax.set_ylabel(f"{kind} density (nonzero fraction)")
    ax.set_ylim(0, max(1e-3, float(density.max(initial=0)) * 1.1))
    ax.set_title(title)
    handles = [matplotlib.patches.Patch(color=palette[i], label=g)
               for i, g in enumerate(order)]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              ncol=1 if len(order) <= 16 else 2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["layer_table", "plot_layer_sparsity", "sparsity_table"]
