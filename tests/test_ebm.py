"""Energy-based models (G15): Langevin's stationary variance, the energy gradient, the replay buffer, JEM's
energies and classifier, calibration, divergence detection, and (slow) the CLI run on ring8."""

import json
import math

import numpy as np
import pytest
import torch

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.errors import NonFiniteLoss, UserError
from dlcanon.metrics.calibration import expected_calibration_error
from dlcanon.models.energy import build_energy_cnn, build_energy_mlp, build_jem_cnn
from dlcanon.objectives.ebm import EBM, JEM, langevin
from dlcanon.runs import build_objective, default_config
from dlcanon.train import Trainer, fit


def stationary_variance(s2: float, step: float, noise: float) -> float:
    """x' = x − ε∇E + σξ on E = x²/(2s²): x' = (1 − a)x + σξ with a = ε/s², so the stationary variance v solves
    v = (1 − a)²v + σ², i.e. v = σ²/(a(2 − a)) = T·s²/(1 − ε/(2s²)) with T = σ²/(2ε) (for 0 < a < 2).
    With σ² = 2ε (T = 1) this is s²/(1 − ε/(2s²)): the unadjusted chain overshoots the target variance s²."""
    temperature = noise**2 / (2 * step)
    return temperature * s2 / (1 - step / (2 * s2))


@pytest.mark.parametrize(
    ("s2", "step", "noise"),
    [(1.0, 0.5, math.sqrt(1.0)), (2.0, 0.4, math.sqrt(0.8)), (1.0, 0.3, 0.2)],  # σ² = 2ε twice, then T = 1/15
)
def test_langevin_reaches_the_stationary_variance_of_the_unadjusted_update(s2, step, noise):
    n = 20_000
    g = torch.Generator().manual_seed(0)
    x0 = 3.0 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    x = langevin(lambda v: v.pow(2).sum(1) / (2 * s2), x0, steps=100, step_size=step, noise=noise, generator=g)
    expected = stationary_variance(s2, step, noise)
    se = expected * math.sqrt(2 / (n - 1))  # standard error of a Gaussian sample variance
    assert float(x.var()) == pytest.approx(expected, abs=4 * se)
    assert float(x.mean()) == pytest.approx(0.0, abs=4 * math.sqrt(expected / n))
    target = noise**2 / (2 * step) * s2  # the density exp(−E/T) itself: the discretisation bias is measurable
    assert abs(float(x.var()) - target) > 4 * se


def test_a_noiseless_langevin_step_descends_the_energy_by_its_gradient():
    torch.manual_seed(0)
    net = build_energy_mlp((2,), None, hidden=(16, 16)).double()
    x = torch.randn(64, 2, dtype=torch.float64)
    step = 1e-3
    moved = langevin(net, x, steps=1, step_size=step, noise=0.0)
    # the gradient by central finite differences: ∂E/∂x_i ≈ (E(x + h e_i) − E(x − h e_i)) / 2h
    h, eye = 1e-6, torch.eye(2, dtype=torch.float64)
    with torch.no_grad():
        grad = torch.stack([(net(x + h * e) - net(x - h * e)) / (2 * h) for e in eye], 1)
        assert torch.allclose(moved, x - step * grad, atol=1e-9)  # x − ε∇E: the sign and the scale
        assert bool((net(moved) < net(x)).all())  # a small step against the gradient lowers every energy
    assert not any(p.grad is not None for p in net.parameters())  # only ∇ₓ was taken


def test_the_contrastive_loss_lowers_data_energies_and_raises_sample_energies():
    torch.manual_seed(0)
    ebm = EBM(build_energy_mlp((2,), None, hidden=(32,)), buffer_size=0, alpha=0.0)
    x_pos, x_neg = torch.randn(256, 2) * 0.1, torch.randn(256, 2) * 0.1 + 1.0
    e_pos, e_neg = ebm.energy(x_pos), ebm.energy(x_neg)
    loss, _ = ebm.contrastive(e_pos, e_neg)
    assert float(loss.detach()) == pytest.approx(float((e_pos.mean() - e_neg.mean()).detach()), abs=1e-6)
    loss.backward()
    with torch.no_grad():
        for p in ebm.parameters():
            p -= 1e-2 * p.grad
        assert float(ebm.energy(x_pos).mean()) < float(e_pos.mean())
        assert float(ebm.energy(x_neg).mean()) > float(e_neg.mean())
    alpha = EBM(build_energy_mlp((2,), None, hidden=(32,)), alpha=0.5)
    e1, e2 = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.0])
    expected = (1 - 2) / 2 - 3 / 2 + 0.5 * ((1 + 4) / 2 + (9 + 0) / 2)  # E⁺ − E⁻ + α(E⁺² + E⁻²)
    assert float(alpha.contrastive(e1, e2)[0]) == pytest.approx(expected)


def test_the_replay_buffer_restarts_its_reinit_fraction_and_takes_the_chains_back():
    torch.manual_seed(0)
    ebm = EBM(build_energy_mlp((2,), None, hidden=(8,)), buffer_size=500, reinit=0.05, langevin_steps=2)
    ebm.replay.fill_(7.0)  # outside the noise box [−1, 1]²: a buffer start is told apart from a fresh one
    n = 40_000
    start, index, restart = ebm.initial(n, torch.Generator().manual_seed(1))
    share = float(restart.double().mean())
    assert share == pytest.approx(0.05, abs=4 * math.sqrt(0.05 * 0.95 / n))
    assert bool((start[~restart] == 7.0).all()) and bool((start[restart].abs() <= 1).all())
    assert index.min() >= 0 and index.max() < 500
    x = ebm.negatives(64)  # the chains' ends are written back
    assert int((ebm.replay != 7.0).any(1).sum()) >= 64 - 5 * 4 and "replay" in ebm.state_dict()
    assert any(torch.equal(row, x[0]) for row in ebm.replay)
    short = EBM(build_energy_mlp((2,), None, hidden=(8,)), buffer_size=0)
    assert bool(short.initial(10)[2].all())  # short-run: every chain from noise


def test_prepare_sets_the_box_and_the_modes_of_a_mixture():
    data = load_data("ring8", n_train=2000, n_test=100)
    ebm = EBM(build_energy_mlp((2,), 8, hidden=(8,)), buffer_size=100)
    ebm.prepare(data.train)
    assert ebm.low.tolist() == pytest.approx([-1.5] * 2, abs=0.05)  # [−1, 1] widened by a quarter of its range
    assert ebm.high.tolist() == pytest.approx([1.5] * 2, abs=0.05)
    assert bool((ebm.replay >= ebm.low).all() and (ebm.replay <= ebm.high).all())
    angles = torch.atan2(ebm.mode_centres[:, 1], ebm.mode_centres[:, 0])
    assert torch.allclose(torch.cos(angles - 2 * math.pi * torch.arange(8) / 8), torch.ones(8), atol=1e-3)
    assert float(ebm.mode_std) == pytest.approx(0.01 * math.sqrt(1), rel=0.1)  # per-axis σ = 0.01


def test_jem_energy_is_minus_logsumexp_and_its_classifier_is_the_softmax():
    torch.manual_seed(0)
    jem = JEM(build_jem_cnn((1, 8, 8), 10, channels=(4, 8)), buffer_size=10).double()
    x = torch.rand(5, 1, 8, 8, dtype=torch.float64)
    f = jem.network(jem.scale(x)).detach().numpy()  # (N, C) logits
    e_x = -np.log(np.exp(f).sum(1))  # E(x) = −log Σ_y exp f(x)[y]
    assert np.allclose(jem.energy(jem.scale(x)).detach().numpy(), e_x, atol=1e-10)
    e_xy = -f  # E(x, y) = −f(x)[y];  p(y | x) = exp(−E(x, y)) / exp(−E(x)) = softmax(f(x))_y
    assert np.allclose(jem.classify(x).detach().numpy(), np.exp(e_x[:, None] - e_xy), atol=1e-10)
    assert np.allclose(jem.classify(x).sum(1).detach().numpy(), 1.0)


def test_expected_calibration_error_matches_its_definition():
    # 10 samples at confidence 0.8, 6 correct: one bin, ECE = |0.6 − 0.8| = 0.2
    probs = torch.tensor([[0.8, 0.2]] * 10)
    labels = torch.tensor([0] * 6 + [1] * 4)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.2)
    # two bins: confidences 0.55 (2 samples, both right) and 0.95 (2 samples, one right)
    probs = torch.tensor([[0.55, 0.45], [0.45, 0.55], [0.95, 0.05], [0.05, 0.95]])
    labels = torch.tensor([0, 1, 0, 0])
    expected = 0.5 * abs(1.0 - 0.55) + 0.5 * abs(0.5 - 0.95)
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)
    onehot = torch.eye(3)[torch.tensor([0, 1, 2, 1])]
    assert expected_calibration_error(onehot, torch.tensor([0, 1, 2, 1])) == 0.0  # certain and right


class Exploding(EBM):
    """An EBM whose energies are multiplied by 10⁸ from step `at` on (an exploding run, made to order)."""

    at = 2

    def energy(self, x):
        return super().energy(x) * (1e8 if self.step >= self.at else 1.0)


def points(n: int) -> DataBundle:
    g = torch.Generator().manual_seed(0)
    return DataBundle("blob", Split(torch.randn(n, 2, generator=g)), Split(torch.randn(16, 2, generator=g)), None,
                      "points")  # fmt: skip


def test_exploding_energies_stop_the_run_with_one_line_and_keep_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    data = points(64)
    cfg = default_config("energy_mlp", device="cpu", tensorboard=False, steps=5, batch_size=16, log_every=1,
                         checkpoint_every=1, eval_every=0)  # fmt: skip
    objective = Exploding(build_energy_mlp((2,), None, hidden=(8,)), buffer_size=32, langevin_steps=1)
    trainer = Trainer(objective, data, cfg, out_dir=tmp_path, progress=False)
    with pytest.raises(NonFiniteLoss) as info:
        trainer.fit()
    message = str(info.value)
    assert "diverged at step 2" in message and "max_energy" in message and "\n" not in message
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["step"] == 2  # written after step 2, the last clean one
    assert all(torch.isfinite(v).all() for v in state["objective"].values() if v.is_floating_point())


def test_non_finite_energies_are_caught():
    ebm = EBM(build_energy_mlp((2,), None, hidden=(8,)), buffer_size=0)
    with pytest.raises(NonFiniteLoss, match="diverged"):
        ebm.contrastive(torch.tensor([0.0, float("nan")]), torch.zeros(2))
    with pytest.raises(NonFiniteLoss, match="max_energy = 10"):
        capped = EBM(build_energy_mlp((2,), None, hidden=(8,)), max_energy=10.0)
        capped.contrastive(torch.zeros(2), torch.full((2,), 11.0))


def test_settings_name_their_temperature_and_bad_values_are_refused():
    ebm = EBM(build_energy_mlp((2,), None, hidden=(8,)), step_size=0.01, noise=math.sqrt(0.02))
    assert ebm.temperature == pytest.approx(1.0)
    images = EBM(build_energy_cnn((1, 8, 8), 10, channels=(4,)))
    assert (images.step_size, images.noise, images.temperature) == (1.0, 0.01, pytest.approx(5e-5))
    for bad in ({"reinit": 1.5}, {"step_size": 0.0}, {"noise": -1.0}, {"alpha": -0.1}, {"langevin_steps": 0}):
        with pytest.raises(UserError):
            EBM(build_energy_mlp((2,), None, hidden=(8,)), **bad)
    with pytest.raises(UserError, match="one output"):
        EBM(build_jem_cnn((1, 8, 8), 10, channels=(4,)))
    with pytest.raises(UserError, match="logits"):
        JEM(build_energy_cnn((1, 8, 8), 10, channels=(4,)))
    with pytest.raises(ValueError, match="images"):
        build_energy_cnn((2,), None)


def test_samples_and_metrics_have_their_shapes():
    torch.manual_seed(0)
    data = load_data("ring8", n_train=500, n_test=100)
    ebm = EBM(build_energy_mlp((2,), 8, hidden=(8,)), buffer_size=200)
    ebm.prepare(data.train)
    a, b = ebm.sample(30, seed=3), ebm.sample(30, seed=3)
    assert a.shape == (30, 2) and torch.equal(a, b)  # seeded: the same draw
    metrics = ebm.evaluate([(data.test.x, data.test.y)])
    assert {"modes_covered", "high_quality_share", "precision", "recall", "energy_data"} <= set(metrics)
    with pytest.raises(UserError, match="label"):
        ebm.sample(4, label=1)
    jem = JEM(build_jem_cnn((1, 8, 8), 10, channels=(4, 8)), buffer_size=20, langevin_steps=2)
    images = jem.sample(6, label=3, steps=2)
    assert images.shape == (6, 1, 8, 8) and float(images.min()) >= 0 and float(images.max()) <= 1
    x, y = torch.rand(12, 1, 8, 8), torch.arange(12) % 10
    assert {"accuracy", "nll", "ece", "frechet_distance"} <= set(jem.evaluate([(x, y)]))


def test_jem_steps_and_a_checkpoint_restores_its_buffer(tmp_path):
    torch.manual_seed(0)
    data = load_data("digits")
    small = DataBundle("digits", data.train.subset(slice(0, 64)), data.test.subset(slice(0, 16)), 10, data.kind)
    cfg = default_config("jem", device="cpu", tensorboard=False, steps=2, batch_size=16, eval_every=0,
                         objective_args={"langevin_steps": 2, "buffer_size": 64, "sample_metrics": False})  # fmt: skip
    objective = build_objective(cfg, small)
    summary = fit(objective, small, cfg, out_dir=tmp_path)
    assert {"test_accuracy", "test_nll", "test_ece"} <= set(summary["metrics"])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["objective"]
    assert torch.equal(state["replay"], objective.replay)


@pytest.mark.slow
def test_cli_ebm_on_ring8_covers_all_eight_modes(tmp_path):
    from helpers import dlcanon

    run = tmp_path / "ebm"
    out = dlcanon("train", "ebm", "--data", "ring8", "--out", str(run), "--json")
    assert out.returncode == 0, out.stderr
    ev = json.loads(dlcanon("eval", str(run), "--json").stdout.strip().splitlines()[-1])["metrics"]
    assert ev["test_modes_covered"] == 8, ev


def test_the_experiments_run_end_to_end_when_shrunk():
    from dlcanon.experiments import Context, run_experiment

    toys = {
        "datasets": ["ring8", "moons"],
        "ebm_steps": 3,
        "gans": ["wgan-gp"],
        "gan_steps": 1,
        "gan_datasets": ["ring8"],
    }
    result = run_experiment("ebm_toys", Context(settings=toys))
    assert len(result.tables[0].rows) == 3 and "ebm_toys" in result.figures
    assert {"ring8/EBM", "ring8/wgan-gp", "moons/EBM"} == set(result.numbers)
    result = run_experiment("jem_digits", Context(settings={"epochs": 1, "langevin_steps": 1, "sample_steps": 1}))
    assert {"plain classifier", "JEM", "JEM samples"} == set(result.numbers) and "jem_samples" in result.figures
    result = run_experiment("ebm_digits", Context(settings={"datasets": {"digits": 2}, "snapshots": (0, 1)}))
    assert len(result.tables[0].rows) == 4 and "ebm_digits" in result.figures
    assert set(result.numbers["digits"]) == {row[2] for row in result.tables[0].rows}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ebm_toys", "jem_digits", "ebm_digits"])
def test_the_quick_experiments_hold(tmp_path, name):
    from dlcanon.reproduce import run_experiments

    record = run_experiments([name], quick=True, out=tmp_path)["experiments"][0]
    assert record["status"] == "ok" and record["holds"], record.get("verdict")
