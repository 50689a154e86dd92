"""Recognisability: the share of samples the shipped metric classifier names with probability ≥ τ."""

import itertools
import math

import pytest
import torch

from dlcanon.data import load_data
from dlcanon.metrics.feature_net import load_feature_net
from dlcanon.metrics.recognisability import confident_classes, recognisability, recognisable_share


def test_the_share_counts_rows_whose_largest_probability_reaches_the_threshold():
    # softmax of (log p) is p: rows with max probability 0.95, 0.9, 0.5, 0.99
    probs = torch.tensor([[0.95, 0.05], [0.9, 0.1], [0.5, 0.5], [0.01, 0.99]])
    logits = probs.log() + 3.0  # a constant shift leaves softmax unchanged
    assert recognisable_share(logits, threshold=0.9) == pytest.approx(0.75)
    assert recognisable_share(logits, threshold=0.96) == pytest.approx(0.25)
    assert recognisable_share(logits, threshold=0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="threshold"):
        recognisable_share(logits, threshold=1.5)


def test_the_share_falls_as_the_threshold_rises():
    logits = torch.randn(400, 10, generator=torch.Generator().manual_seed(0)) * 4
    shares = [recognisable_share(logits, threshold=t) for t in (0.2, 0.5, 0.7, 0.9, 0.99)]
    assert all(a >= b for a, b in itertools.pairwise(shares)) and shares[0] > shares[-1]


def test_uniform_logits_are_never_recognisable_and_confident_classes_count_the_labels():
    assert recognisable_share(torch.zeros(50, 10)) == 0.0
    assert confident_classes(torch.zeros(50, 10)) == 0
    # 90 confident samples of class 3, 10 of class 7, one of class 1 (under the 2 % share)
    labels = torch.tensor([3] * 90 + [7] * 10 + [1])
    logits = torch.nn.functional.one_hot(labels, 10).float() * 20
    assert confident_classes(logits) == 2
    assert confident_classes(logits, min_share=0.0) == 3
    assert math.isclose(recognisable_share(logits), 1.0)


def test_real_digits_are_recognisable_and_noise_is_not():
    net, test = load_feature_net("mnist5k"), load_data("mnist5k").test.x[:500]
    real = recognisability(test, net)
    noise = recognisability(torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0)), net)
    blank = recognisability(torch.zeros(100, 1, 28, 28), net)
    assert real["recognisable"] > 0.75 and real["confident_classes"] == 10
    assert noise["recognisable"] < 0.3 and blank["recognisable"] == 0.0


class _Mixer:
    """A stand-in for a StyleGAN objective whose mixes copy one source: real digits as A and B."""

    def __init__(self, copy: str) -> None:
        x = load_data("mnist5k").test.x
        self.a, self.b, self.copy = x[:60], x[60:120], copy

    def mixed_pairs(self, n, *, seed=0, crossover=None):
        return self.a[:n], self.b[:n], (self.a if self.copy == "coarse" else self.b)[:n]


@pytest.mark.parametrize("copy", ["coarse", "fine"])
def test_mixing_sources_credit_the_source_a_mix_copies(copy):
    from dlcanon.experiments.gan_scales import mixing_sources

    out = mixing_sources(_Mixer(copy), 60)
    other = "fine" if copy == "coarse" else "coarse"
    assert 30 < out["pairs"] <= 60 and out[copy] == 1.0 and out[other] == 0.0


def test_a_gan_scores_its_samples_recognisability_when_a_classifier_judges_them():
    from dlcanon.objectives.gan_variants import gan_objective
    from dlcanon.registry import MODELS

    torch.manual_seed(0)
    objective = gan_objective(MODELS.build("dcgan", (1, 28, 28), 10), "gan").eval()
    test = load_data("mnist5k").test.x[:50]
    metrics = objective.evaluate([(test, None)])
    assert 0.0 <= metrics["recognisable"] < 0.5 and "confident_classes" in metrics


def test_the_dcgan_bar_asks_for_the_share_and_for_digits_of_many_classes():
    from dlcanon.experiments.gan_images import DCGAN_QUICK_RECOGNISABLE, as_recognisable_as_dcgan

    bar = DCGAN_QUICK_RECOGNISABLE
    assert as_recognisable_as_dcgan({"recognisable": bar, "confident_classes": 10})
    assert not as_recognisable_as_dcgan({"recognisable": bar - 0.01, "confident_classes": 10})
    assert not as_recognisable_as_dcgan({"recognisable": 0.9, "confident_classes": 1})  # one digit, over and over
