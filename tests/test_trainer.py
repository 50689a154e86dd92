import itertools
import json

import pytest
import torch
from torch import nn

from dlcanon import checkpoint
from dlcanon.config import TrainConfig
from dlcanon.errors import UserError
from dlcanon.models.mlp import MLP
from dlcanon.objectives.base import Objective, Update
from dlcanon.objectives.classifier import Classifier
from dlcanon.train import NonFiniteLoss, Trainer, fit


def cfg(**kw) -> TrainConfig:
    base = dict(
        model="mlp",
        data="tiny",
        epochs=30,
        batch_size=10,
        lr=0.01,
        device="cpu",
        tensorboard=False,
        log_every=1,
    )
    return TrainConfig(**(base | kw))


def mlp_classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier(MLP(64, 4, hidden=(32,)))


def test_trainer_learns_and_writes_run_files(tiny_images, tmp_path):
    summary = fit(mlp_classifier(), tiny_images, cfg(tensorboard=True), out_dir=tmp_path)
    assert summary["metrics"]["test_accuracy"] >= 0.9
    assert summary["steps"] == 30 * 4 and summary["params"] == 64 * 32 + 32 + 32 * 4 + 4
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 121))
    evals = [r for r in lines if "test_accuracy" in r]
    assert len(evals) == 30 and evals[0]["test_loss"] > evals[-1]["test_loss"]
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())
    state = checkpoint.load(tmp_path / "checkpoint.pt")
    assert state["step"] == 120 and set(state) >= {"objective", "optimizers", "schedulers", "rng_cpu"}


def test_schedule_is_applied_per_step(tiny_images, tmp_path):
    fit(mlp_classifier(), tiny_images, cfg(epochs=5, schedule="cosine"), out_dir=tmp_path)
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] == pytest.approx(0.01 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi / 20)).item()))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12) and all(a >= b for a, b in itertools.pairwise(lrs))


def test_ema_weights_are_the_exponential_average(tiny_images):
    objective = mlp_classifier()
    trainer = Trainer(objective, tiny_images, cfg(epochs=1, ema=0.5, lr=0.1), progress=False)
    snapshots = []
    stream = trainer.batches(0)
    flag = torch.zeros((), dtype=torch.float64)
    for _ in range(3):
        trainer.train_step(stream, flag)
        snapshots.append(objective.network.net[1].weight.detach().clone())
    ema = trainer.ema.module.network.net[1].weight
    # AveragedModel copies the weights at the first update, then w_ema ← d·w_ema + (1 − d)·w
    expected = 0.5 * (0.5 * snapshots[0] + 0.5 * snapshots[1]) + 0.5 * snapshots[2]
    assert torch.allclose(ema, expected, atol=1e-6)


def test_gradient_clipping_bounds_the_update(tiny_images):
    objective = mlp_classifier()
    before = [p.detach().clone() for p in objective.parameters()]
    trainer = Trainer(
        objective,
        tiny_images,
        cfg(epochs=1, optimizer="sgd", momentum=0.0, lr=1.0, grad_clip=1e-3),
        progress=False,
    )
    trainer.train_step(trainer.batches(0), torch.zeros((), dtype=torch.float64))
    delta = torch.cat([(p.detach() - b).flatten() for p, b in zip(objective.parameters(), before, strict=True)])
    assert float(delta.norm()) == pytest.approx(1e-3, rel=1e-3)  # SGD step = lr · clipped gradient


class FlakyObjective(Classifier):
    """A classifier whose loss turns NaN at a given call."""

    def __init__(self, network, *, nan_at: int):
        super().__init__(network)
        self.calls, self.nan_at = 0, nan_at

    def forward(self, batch, update="model"):
        self.calls += 1
        loss, logs = super().forward(batch, update)
        return (loss * float("nan") if self.calls >= self.nan_at else loss), logs


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_images, tmp_path):
    objective = FlakyObjective(MLP(64, 4, hidden=(8,)), nan_at=8)
    with pytest.raises(NonFiniteLoss, match="NaN"):
        fit(objective, tiny_images, cfg(epochs=10, checkpoint_every=5, log_every=5), out_dir=tmp_path)
    state = checkpoint.load(tmp_path / "checkpoint.pt")
    assert state["step"] == 5
    assert all(torch.isfinite(t).all() for t in state["objective"].values())


class TwoPlayers(Objective):
    """Two parameter groups stepped in turn: `a` three times per step, then `b` once."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.zeros(())), nn.Parameter(torch.zeros(()))
        self.seen: list[str] = []

    def updates(self):
        return [Update("a", [self.a], repeat=3), Update("b", [self.b])]

    def forward(self, batch, update="model"):
        self.seen.append(update)
        p = self.a if update == "a" else self.b
        loss = (p - 1.0) ** 2
        return loss, {"loss": loss.detach()}

    def evaluate(self, batches):
        return {"a": float(self.a), "b": float(self.b)}


def test_declared_updates_run_in_order_with_their_optimisers(tiny_images):
    objective = TwoPlayers()
    run = cfg(epochs=1, optimizer="sgd", momentum=0.0, lr=0.1, players={"b": {"lr": 0.5}})
    trainer = Trainer(objective, tiny_images, run, progress=False)
    assert trainer.steps_per_epoch == 1  # 4 batches per epoch, 4 batches per step
    trainer.fit()
    assert objective.seen == ["a", "a", "a", "b"]
    assert objective.a.item() == pytest.approx(1 - 0.8**3)  # three SGD steps, lr 0.1, on (a − 1)²
    assert objective.b.item() == pytest.approx(1.0)  # one step, lr 0.5: 0 − 0.5·2·(0 − 1)


def test_user_errors(tiny_images):
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        Trainer(mlp_classifier(), tiny_images, cfg(precision="fp16"))
    with pytest.raises(UserError, match="batch_size 100 leaves no full step"):
        Trainer(mlp_classifier(), tiny_images, cfg(batch_size=100))


def test_bf16_autocast_trains_on_cpu(tiny_images):
    summary = fit(mlp_classifier(), tiny_images, cfg(precision="bf16", epochs=20))
    assert summary["metrics"]["test_accuracy"] >= 0.8


class MeanFit(Objective):
    """A closed-form 'model': the mean of the training inputs, fitted in `prepare`, no gradient updates."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 8, 8))

    def prepare(self, train):
        self.mean.copy_(train.x.mean(0))

    def updates(self):
        return []

    def forward(self, batch, update="model"):
        raise AssertionError("a closed-form objective takes no steps")

    def evaluate(self, batches):
        err = [((x - self.mean) ** 2).mean().item() for x, _ in batches]
        return {"mse": sum(err) / len(err)}


def test_closed_form_objective_is_prepared_evaluated_and_saved(tiny_images, tmp_path):
    objective = MeanFit()
    summary = fit(objective, tiny_images, cfg(epochs=3), out_dir=tmp_path)
    assert torch.allclose(objective.mean, tiny_images.train.x.mean(0))
    assert summary["steps"] == 0 and summary["metrics"]["test_mse"] > 0
    assert torch.equal(checkpoint.load(tmp_path / "checkpoint.pt")["objective"]["mean"], objective.mean)


def test_precision_auto_resolution():
    from dlcanon.runtime import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu, conv=True) == "fp32"
    assert resolve_precision("bf16", cpu, conv=False) == "bf16"
    assert resolve_precision("auto", cpu, conv=False) == "fp32"
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision("auto", cpu, conv=True) == ("bf16" if native else "fp32")


def test_label_smoothing_loss_formula():
    torch.manual_seed(0)
    objective = Classifier(nn.Linear(4, 3), label_smoothing=0.2)
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 1, 0])
    loss, _ = objective((x, y))
    logp = torch.log_softmax(objective.network(x), 1)
    q = torch.full((5, 3), 0.2 / 3)
    q[torch.arange(5), y] += 0.8  # q = (1 − ε)·onehot + ε/C
    assert torch.allclose(loss, -(q * logp).sum(1).mean())


@pytest.mark.slow
def test_compiled_training_matches_eager(tiny_images):
    eager = fit(mlp_classifier(), tiny_images, cfg(epochs=2))
    compiled = fit(mlp_classifier(), tiny_images, cfg(epochs=2, compile=True))
    assert compiled["metrics"]["test_loss"] == pytest.approx(eager["metrics"]["test_loss"], rel=1e-4)


class Coupled(Objective):
    """Player b's loss (b − a)² also reaches a: its gradient must not leak into a's next step."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.zeros(())), nn.Parameter(torch.zeros(()))

    def updates(self):
        return [Update("a", [self.a]), Update("b", [self.b])]

    def forward(self, batch, update="model"):
        loss = (self.a - 1.0) ** 2 if update == "a" else (self.b - self.a - 1.0) ** 2
        return loss, {"loss": loss.detach()}

    def evaluate(self, batches):
        return {}


def test_one_players_gradients_do_not_leak_into_anothers_step(tiny_images):
    objective = Coupled()
    trainer = Trainer(
        objective, tiny_images, cfg(epochs=1, batch_size=10, optimizer="sgd", momentum=0.0, lr=0.1), progress=False
    )
    trainer.fit()  # two steps of (a, then b)
    a = b = 0.0
    for _ in range(2):
        a -= 0.1 * 2 * (a - 1.0)
        b -= 0.1 * 2 * (b - a - 1.0)
    assert objective.a.item() == pytest.approx(a) and objective.b.item() == pytest.approx(b)


def test_snapshots_run_at_the_requested_steps_in_eval_mode(tiny_images):
    seen = []

    def snapshot(step, model):
        seen.append((step, model.training, torch.is_grad_enabled(), next(model.parameters()).clone()))

    objective = mlp_classifier()
    fit(objective, tiny_images, cfg(epochs=2), snapshot=snapshot, snapshot_steps={0, 3, 8, 99})
    assert [s[0] for s in seen] == [0, 3, 8]  # step 99 is past the run's 8 steps
    assert not any(training or grad for _, training, grad, _ in seen)
    assert not torch.equal(seen[0][3], seen[1][3]) and torch.equal(seen[2][3], next(objective.parameters()))
    assert objective.training  # the trainer's mode is restored after each snapshot


def test_snapshots_change_neither_the_run_nor_its_training_time(tiny_images, monkeypatch):
    import time

    import dlcanon.train

    # a clock the snapshots move forward by an hour each: no wall-clock time is measured or bounded here
    offset = [0.0]
    monkeypatch.setattr(dlcanon.train.time, "perf_counter", lambda real=time.perf_counter: real() + offset[0])

    def sample_and_wait(step, model):
        torch.rand(100)  # draws from the global generator, as sampling a GAN's noise does
        offset[0] += 3600.0

    runs = []
    for snapshot in (None, sample_and_wait):
        torch.manual_seed(0)
        objective = Classifier(MLP(64, 4, hidden=(32,), dropout=0.5))  # dropout draws from the generator too
        summary = fit(objective, tiny_images, cfg(epochs=2), snapshot=snapshot, snapshot_steps={0, 4})
        runs.append((summary["seconds"], [p.detach().clone() for p in objective.parameters()]))
    (_, plain), (seconds, snapped) = runs
    assert all(torch.equal(a, b) for a, b in zip(plain, snapped, strict=True))
    assert offset[0] == 7200.0 and 0 < seconds < 3600  # the two snapshots' hours are not training time


def test_accumulated_micro_batches_equal_one_batch_k_times_larger(tiny_images):
    """K micro-batches of B, each mean loss divided by K, step like one batch of K·B (the same samples, since
    an epoch's order does not depend on the batch size): ∇ (1/K) Σ_k mean_B(ℓ) = ∇ mean_KB(ℓ)."""

    def run(batch_size: int, accumulate: int):
        objective = mlp_classifier()
        settings = dict(epochs=2, batch_size=batch_size, accumulate=accumulate, optimizer="sgd", lr=0.5)
        trainer = Trainer(objective, tiny_images, cfg(**settings), progress=False)
        trainer.fit()
        return trainer, [p.detach().clone() for p in objective.parameters()]

    (micro, accumulated), (large, one_batch) = run(5, 4), run(20, 1)
    assert micro.steps_per_epoch == large.steps_per_epoch == 2 and micro.step == large.step == 4
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(accumulated, one_batch, strict=True))
    _, plain = run(5, 1)  # 16 steps of B instead: the comparison can tell runs apart
    assert not all(torch.allclose(a, b, atol=1e-3) for a, b in zip(plain, one_batch, strict=True))


class Horizon(Classifier):
    """Records what the trainer tells it before every step."""

    def __init__(self, network):
        super().__init__(network)
        self.told: list[tuple[int, int]] = []

    def on_step(self, step, total_steps):
        self.told.append((step, total_steps))


def test_steps_budget_and_the_objective_hears_the_horizon(tiny_images, tmp_path):
    torch.manual_seed(0)
    objective = Horizon(MLP(64, 4, hidden=(8,)))
    summary = fit(objective, tiny_images, cfg(epochs=30, steps=6, eval_every=0), out_dir=tmp_path)
    assert objective.told == [(t, 6) for t in range(6)]  # 6 steps, not 30 epochs × 4
    assert summary["steps"] == 6 and summary["epochs"] == 1.5
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert "test_accuracy" in lines[-1] and lines[-1]["step"] == 6  # the last step evaluates, mid-epoch


class Pair(Objective):
    """A GAN-like pair of modules: `g` and `d` each a linear layer, stepped in turn; only `g` is averaged."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.g, self.d = nn.Linear(2, 1), nn.Linear(2, 1)

    def updates(self):
        return [Update("d", list(self.d.parameters())), Update("g", list(self.g.parameters()))]

    def ema_modules(self):
        return ["g"]

    def forward(self, batch, update="model"):
        x = batch[0].flatten(1)[:, :2]
        loss = (self.g(x) - 1).pow(2).mean() if update == "g" else (self.d(x) + 1).pow(2).mean()
        return loss, {"loss": loss.detach()}

    def evaluate(self, batches):
        return {"g_bias": float(self.g.bias), "d_bias": float(self.d.bias)}


def test_ema_averages_only_the_modules_the_objective_names(tiny_images, tmp_path):
    objective = Pair()
    trainer = Trainer(objective, tiny_images, cfg(epochs=1, ema=0.5, batch_size=5, lr=0.1), progress=False)
    stream, flag, g = trainer.batches(0), torch.zeros((), dtype=torch.float64), []
    for _ in range(3):
        trainer.train_step(stream, flag)
        g.append(objective.g.weight.detach().clone())
    with trainer.evaluating() as model:
        assert torch.allclose(model.g.weight, 0.5 * (0.5 * g[0] + 0.5 * g[1]) + 0.5 * g[2], atol=1e-6)
        assert not torch.allclose(model.g.weight, objective.g.weight)
        assert torch.equal(model.d.weight, objective.d.weight)  # the critic is the live one, not averaged
    # what evaluation and `runs.load_run` read: AveragedModel's layout, "module.<name>" and "n_averaged"
    state = trainer.state_dict()["ema"]
    assert int(state["n_averaged"]) == 3 and torch.equal(state["module.d.weight"], objective.d.weight)


def test_each_players_optimiser_and_loss_scaler(tiny_images, monkeypatch):
    """Every player's optimiser is the run's with its `players` overrides; each player's scaler updates once
    after each of its optimiser steps (a WGAN critic's 3 steps, then the generator's 1)."""
    updates: list[int] = []
    real_update = torch.amp.GradScaler.update
    spy = lambda self, *a: (updates.append(id(self)), real_update(self, *a))  # noqa: E731
    monkeypatch.setattr(torch.amp.GradScaler, "update", spy)
    run = cfg(epochs=1, optimizer="adam", lr=0.1, betas=(0.5, 0.9), players={"b": {"optimizer": "sgd", "lr": 0.5}})
    trainer = Trainer(TwoPlayers(), tiny_images, run, progress=False)
    a, b = trainer.optimizers
    assert isinstance(a, torch.optim.Adam) and a.defaults["lr"] == 0.1 and a.defaults["betas"] == (0.5, 0.9)
    assert isinstance(b, torch.optim.SGD) and b.defaults["lr"] == 0.5 and b.defaults["momentum"] == 0.9
    assert trainer.optimizer_settings["b"] == {"optimizer": "sgd", "lr": 0.5, "momentum": 0.9, "weight_decay": 0.0}
    trainer.fit()  # one step
    scaler_a, scaler_b = map(id, trainer.scalers)
    assert updates == [scaler_a] * 3 + [scaler_b]
    with pytest.raises(UserError, match="players are a, b; got c"):
        Trainer(TwoPlayers(), tiny_images, cfg(players={"c": {"lr": 1.0}}), progress=False)


def test_channels_last_follows_the_inputs_rank_not_the_data_kind(tiny_images):
    from dlcanon.data.base import DataBundle

    conv = Classifier(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 4)))
    relabelled = DataBundle("tiny", tiny_images.train, tiny_images.test, 4, "signal")  # (1, 8, 8) inputs
    assert Trainer(conv, relabelled, cfg(epochs=1), progress=False).memory_format is torch.channels_last


def test_nvae_kl_warm_up_is_a_fraction_of_the_run():
    """c = max(min(1, (t/T)/0.3), 10⁻⁴): the same share of any run, told by the trainer through `on_step`."""
    from dlcanon.objectives.nvae import nvae_kl_weight
    from dlcanon.registry import MODELS, OBJECTIVES

    objective = OBJECTIVES.build("nvae", MODELS.build("nvae", (1, 28, 28), 10))
    weights = []
    for total in (100, 1000):
        objective.on_step(total * 15 // 100, total)  # 15 % into the run: half-way through the warm-up
        weights.append(nvae_kl_weight(objective.progress, objective.kl_warmup, objective.min_kl_weight))
    assert weights == pytest.approx([0.5, 0.5])
    assert nvae_kl_weight(0.0, 0.3, 1e-4) == 1e-4 and nvae_kl_weight(0.9, 0.3, 1e-4) == 1.0


class Fitted(Pair):
    """`prepare` sets g's bias (a closed-form fit); a float buffer `alpha` that must not be averaged (ProGAN's
    fade-in), and a BatchNorm whose running statistics must be."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(2)
        self.register_buffer("alpha", torch.zeros(()))

    def ema_modules(self):
        return [""]

    def prepare(self, train):
        with torch.no_grad():
            self.g.bias.fill_(7.0)

    def on_step(self, step, total_steps):
        self.alpha.fill_(float(step))

    def forward(self, batch, update="model"):
        self.norm(batch[0].flatten(1)[:, :2])
        return super().forward(batch, update)


def test_ema_reports_the_fit_before_the_first_step_and_averages_only_weights_and_statistics(tiny_images):
    from dlcanon.ema import EMA

    objective = Fitted()
    ema = EMA(objective, [""], 0.9)
    objective.prepare(None)  # after the EMA copy was made, as in the trainer
    assert float(ema.averaged().g.bias.detach()) == 7.0  # no update yet: the average is the live (fitted) model
    trainer = Trainer(objective, tiny_images, cfg(epochs=1, ema=0.9, batch_size=5, lr=0.1), progress=False)
    trainer.fit()
    with trainer.evaluating() as model:
        assert float(model.alpha) == float(objective.alpha) == trainer.total_steps - 1  # followed, not averaged
        assert not torch.allclose(model.norm.running_mean, objective.norm.running_mean)  # averaged
        assert not torch.allclose(model.g.weight, objective.g.weight)


def test_closed_form_runs_with_ema_or_a_step_budget_report_the_fit(tmp_path):
    from dlcanon.data import load_data
    from dlcanon.runs import build_objective, default_config

    data = load_data("digits")
    results = []
    for fields in ({}, {"ema": 0.9}, {"steps": 5}):
        run = default_config("ppca", device="cpu", tensorboard=False, **fields)
        results.append(fit(build_objective(run, data), data, run)["metrics"]["test_nll"])
    assert results[0] == pytest.approx(results[1]) and results[0] == pytest.approx(results[2])


def test_augmenting_points_is_refused_when_the_trainer_is_built(tmp_path):
    from dlcanon.data import load_data
    from dlcanon.objectives.regressor import Regressor

    data = load_data("ring8")
    with pytest.raises(UserError, match="transforms images or volumes; ring8's inputs are shaped"):
        Trainer(Regressor(nn.Linear(2, 1)), data, cfg(augment="flip"), out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
