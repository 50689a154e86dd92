"""Model summary: parameter counts by hand, FLOPs by the notes' formula (a multiply-add = 2 FLOPs),
rows that sum to the totals, meta-device summaries equal to real ones.
"""

from __future__ import annotations

import json

import pytest
import torch
from rich.table import Table
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcanon.nn import count_parameters, summarize, summarize_meta


def small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # (1, 8, 8, 8)
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (1, 8, 4, 4)
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def test_parameters_equal_a_hand_count():
    net = small_net()
    conv, bn, linear = 3 * 8 * 3 * 3 + 8, 8 + 8, 128 * 10 + 10
    assert count_parameters(net) == conv + bn + linear == 1530
    net[0].requires_grad_(False)
    assert count_parameters(net, trainable_only=True) == bn + linear
    s = summarize(net, (3, 8, 8))
    assert (s.params, s.trainable_params) == (1530, bn + linear)
    assert [r.params for r in s.rows] == [conv, bn, 0, 0, 0, linear]


def test_flops_follow_the_notes_formula_and_rows_sum_to_totals():
    s = summarize(small_net(), (3, 8, 8))
    k, c_in, c_out, m_h, m_w = 3, 3, 8, 8, 8
    rows = {r.name: r for r in s.rows}
    assert rows["0"].flops == 2 * k**2 * c_in * c_out * m_h * m_w  # multiply-add = 2 FLOPs
    assert rows["5"].flops == 2 * 128 * 10
    assert rows["1"].flops == rows["2"].flops == rows["3"].flops == 0  # element-wise ops count 0
    assert s.flops == sum(r.flops for r in s.rows) == 2 * 9 * 3 * 8 * 64 + 2 * 128 * 10
    assert s.params == sum(r.params for r in s.rows)
    assert [r.output_shape for r in s.rows] == [(1, 8, 8, 8)] * 3 + [(1, 8, 4, 4), (1, 128), (1, 10)]
    assert s.output_shape == (1, 10) and s.input_shape == (1, 3, 8, 8)
    assert [r.type for r in s.rows] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]


def test_linear_flops_and_counter_convention():
    s = summarize(nn.Linear(20, 7), (20,))
    assert s.flops == 2 * 20 * 7 and s.rows[0].name == "Linear" and s.params == 20 * 7 + 7
    counter = FlopCounterMode(display=False)  # the counter's own convention, checked directly
    with counter:
        torch.randn(5, 20) @ torch.randn(20, 7)
    assert counter.get_total_flops() == 2 * 5 * 20 * 7


class Residual(nn.Module):
    """A parent doing work itself (a matmul in forward) and holding a parameter, plus a shared leaf."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(16, 16))
        self.fc = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.fc(x)) + x @ self.scale


def test_other_row_and_shared_leaf():
    s = summarize(Residual(), (16,))
    rows = {r.name: r for r in s.rows}
    assert rows["fc"].flops == 2 * (2 * 16 * 16)  # called twice
    assert rows["(other)"].flops == 2 * 16 * 16 and rows["(other)"].params == 16 * 16
    assert s.flops == sum(r.flops for r in s.rows) and s.params == sum(r.params for r in s.rows)


def test_hook_attribution_agrees_with_the_counters_breakdown():
    net = small_net()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net.eval()(torch.randn(1, 3, 8, 8))
    breakdown = counter.get_flop_counts()
    s = summarize(net, (3, 8, 8))
    for row in s.rows:
        assert row.flops == sum(breakdown.get(f"Sequential.{row.name}", {}).values())


def test_modes_restored_and_no_grad():
    net = small_net()
    net.train()
    net[1].eval()
    summarize(net, (3, 8, 8))
    assert net.training and not net[1].training and net[5].training
    assert all(p.grad is None for p in net.parameters())


def test_to_dict_and_to_table():
    s = summarize(small_net(), (3, 8, 8))
    d = json.loads(json.dumps(s.to_dict()))
    assert d["params"] == 1530 and d["flops"] == s.flops and len(d["layers"]) == 6
    assert d["layers"][0] == {"name": "0", "type": "Conv2d", "output_shape": [1, 8, 8, 8], "params": 224,
                              "flops": s.rows[0].flops}  # fmt: skip
    table = s.to_table()
    assert isinstance(table, Table) and table.row_count == 6 + 2


def test_meta_summary_equals_real_summary():
    real = summarize(small_net(), (3, 8, 8))
    meta = summarize_meta(small_net, (3, 8, 8))
    assert meta.to_dict() == real.to_dict()
    big = summarize_meta(lambda: nn.Sequential(nn.Conv2d(3, 256, 3), nn.Conv2d(256, 256, 3)), (3, 512, 512))
    assert big.flops == 2 * 9 * 3 * 256 * 510**2 + 2 * 9 * 256 * 256 * 508**2


def test_device_mismatch_fails_early():
    with torch.device("meta"):
        net = small_net()
    with pytest.raises(ValueError, match="move the model"):
        summarize(net, (3, 8, 8))


def test_integer_inputs():
    s = summarize(nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(40, 2)), (5,), dtype=torch.long)
    assert s.rows[0].output_shape == (1, 5, 8) and s.flops == 2 * 40 * 2
