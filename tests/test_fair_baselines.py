"""Fair baselines and verdicts robust to the spread: the Fourier features of the SIREN comparison, the decision
rules of the ensembles and mode-collapse experiments, and the ensembles' verdict in fp32 and in bf16 autocast."""

from __future__ import annotations

import math

import pytest
import torch

import dlcanon.experiments  # noqa: F401  (registrations)
from dlcanon.experiments.base import run_experiment
from dlcanon.experiments.context import Context
from dlcanon.experiments.ensembles import clear_gain, mean_sd
from dlcanon.experiments.gan_toys import collapse_verdict
from dlcanon.experiments.siren_fit import FourierFeatureMLP, fourier_features


def test_fourier_features_are_cos_and_sin_of_2pi_bp():
    p = torch.tensor([[0.25, 0.0], [0.1, 0.3]])
    b = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    expected = torch.tensor([[math.cos(math.pi / 2), 1.0, 1.0, 0.0]])  # cos 2π·0.25, cos 0, sin 2π·0.25, sin 0
    assert torch.allclose(fourier_features(p, b)[:1], expected, atol=1e-6)
    assert torch.allclose(fourier_features(p, b).pow(2).reshape(2, 2, 2).sum(1), torch.ones(2, 2))  # cos² + sin²


def test_fourier_feature_scale_sets_the_frequencies():
    torch.manual_seed(0)
    narrow, wide = (FourierFeatureMLP(256, sigma=s, hidden=8, layers=1) for s in (1.0, 10.0))
    assert 8 < wide.b.std() / narrow.b.std() < 12
    assert wide(torch.rand(5, 2)).shape == (5, 1)


def test_mean_sd_and_a_gain_clear_of_its_spread():
    assert mean_sd([1.0, 3.0]) == (2.0, math.sqrt(2)) and mean_sd([4.0]) == (4.0, 0.0)
    assert clear_gain([0.02, 0.025, 0.03])
    assert not clear_gain([0.09, -0.03, 0.03])  # the quick run's one-seed story: a sign that flips
    assert not clear_gain([0.001, 0.05, 0.1])  # positive, but within two standard errors of zero


def collapse_numbers(others: list[int], gp: list[int], share: float = 0.9) -> dict:
    numbers = {f"ring8/{m}": {"modes_covered": others, "high_quality_share": [share] * len(others)}
               for m in ("GAN (minimax)", "NS-GAN", "WGAN (clip)")}  # fmt: skip
    numbers["ring8/WGAN-GP"] = {"modes_covered": gp, "high_quality_share": [0.9] * len(gp)}
    return numbers


def test_mode_collapse_verdict_can_fail_either_half():
    kw = {"datasets": ["ring8"], "seeds": [0, 1], "steps": {"ring8": 10}}
    assert collapse_verdict([], collapse_numbers([8, 6], [8, 8]), **kw)[1]  # a dropped mode: holds
    assert collapse_verdict([], collapse_numbers([8, 8], [8, 8], share=0.5), **kw)[1]  # modes missed: holds
    assert not collapse_verdict([], collapse_numbers([8, 8], [8, 8]), **kw)[1]  # no loss dropped or missed any
    assert not collapse_verdict([], collapse_numbers([8, 6], [8, 7]), **kw)[1]  # WGAN-GP dropped one


@pytest.mark.slow  # bf16 autocast is emulated on CPUs without it: minutes
def test_ensembles_verdict_is_the_same_in_fp32_and_bf16():
    setting = {"model": "lenet5", "k": 3, "replicates": 3, "n_train": 256, "epochs": 6}
    verdicts = [run_experiment("ensembles", Context(quick=True, settings={**setting, "precision": p})).holds
                for p in ("fp32", "bf16")]  # fmt: skip
    assert verdicts == [True, True]
