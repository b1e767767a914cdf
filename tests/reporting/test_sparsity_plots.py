"""Tests of `deltasparse.reporting.sparsity_plots`."""

import numpy as np

from deltasparse.reporting.sparsity_plots import layer_table
from deltasparse.reporting.sparsity_plots import plot_layer_sparsity
from deltasparse.reporting.sparsity_plots import sparsity_table


def test_sparsity_table_orders_groups_and_counts_macs():
    figures = {"delta_density_block2": 0.5, "delta_density_conv1": 0.25,
               "delta_density_block10": 0.1, "delta_density_all": 0.2,
               "op_ratio_counted": 0.25, "macs_dense_counted": 400.0,
               "macs_effective_counted": 100.0, "accuracy": 0.9}
    lines = sparsity_table(figures).splitlines()
    assert "temporal delta density" in lines[0]
    groups = [line.split()[0] for line in lines[2:-1]]
    assert groups == ["conv1", "block2", "block10", "all"]
    assert "0.7500" in lines[2 + groups.index("conv1")]  # sparsity
    assert "4.0x fewer" in lines[-1] and "100 of 400" in lines[-1]
    assert "activation density" in sparsity_table(
        {"act_density_in": 1.0, "act_density_all": 0.5})
    assert sparsity_table({"accuracy": 1.0}) == ""


def test_plot_layer_sparsity_writes_a_png(tmp_path):
    stats = {"names": ["a_delta", "b_delta", "c_delta"],
             "groups": ["conv1", "block1", "block1"],
             "density": np.array([0.5, 0.1, 0.2]),
             "l0": np.array([5.0, 1.0, 2.0]), "n": np.array([10.0] * 3),
             "kind": "delta"}
    lines = layer_table(stats).splitlines()
    assert lines[0] == "Per-layer temporal delta density:"
    assert [line.split() for line in lines[2:]] == [
        ["a_delta", "conv1", "0.5000"], ["b_delta", "block1", "0.1000"],
        ["c_delta", "block1", "0.2000"]]
    path = plot_layer_sparsity(stats, str(tmp_path / "p.png"), "t")
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
