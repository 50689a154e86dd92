import math

import pytest
import torch

from dlcanon.errors import UserError
from dlcanon.registry import SCHEDULES
from dlcanon.schedules import cosine, lr_factor, one_cycle, step_decay


def test_cosine_closed_form_and_warmup():
    total = 100
    assert cosine(0, total) == 1.0
    assert cosine(50, total) == pytest.approx(0.5)
    assert cosine(100, total) == pytest.approx(0.0, abs=1e-12)
    # warm-up: linear to 1 over ceil(0.1 * 100) = 10 steps, then the cosine over the remaining 90
    assert [cosine(t, total, warmup=0.1) for t in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert cosine(10 + 45, total, warmup=0.1) == pytest.approx(0.5)


def test_one_cycle_matches_pytorch():
    total, lr = 200, 0.1
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, cycle_momentum=False)
    for t in range(total):
        assert opt.param_groups[0]["lr"] == pytest.approx(lr * one_cycle(t, total), rel=1e-6, abs=1e-12)
        opt.step()
        ref.step()


def test_step_decay_matches_pytorch():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.7)
    for t in range(30):
        assert opt.param_groups[0]["lr"] == pytest.approx(step_decay(t, 30, step_size=7, gamma=0.7))
        opt.step()
        ref.step()


def test_lr_factor_dispatch_through_the_registry():
    assert lr_factor("constant", 5, 10) == 1.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi / 2)))
    # each schedule receives the settings it declares and no others
    assert lr_factor("step", 7, 10, step_size=3, gamma=0.5, warmup=0.9) == pytest.approx(0.25)
    assert lr_factor("cosine", 0, 10, step_size=3, gamma=0.5, warmup=0.5) == pytest.approx(0.2)
    assert set(SCHEDULES.names()) == {"constant", "cosine", "onecycle", "step"}
    with pytest.raises(UserError, match="unknown schedule 'cosin'; did you mean cosine"):
        lr_factor("cosin", 0, 1)
