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
    flag = torch.zeros((), dtype=torch.bool)
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
    trainer.train_step(trainer.batches(0), torch.zeros((), dtype=torch.bool))
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
        return [Update("a", [self.a], repeat=3), Update("b", [self.b], optimizer={"name": "sgd", "lr": 0.5})]

    def forward(self, batch, update="model"):
        self.seen.append(update)
        p = self.a if update == "a" else self.b
        loss = (p - 1.0) ** 2
        return loss, {"loss": loss.detach()}

    def evaluate(self, batches):
        return {"a": float(self.a), "b": float(self.b)}


def test_declared_updates_run_in_order_with_their_optimisers(tiny_images):
    objective = TwoPlayers()
    trainer = Trainer(objective, tiny_images, cfg(epochs=1, optimizer="sgd", momentum=0.0, lr=0.1), progress=False)
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
    (plain_seconds, plain), (seconds, snapped) = runs
    assert all(torch.equal(a, b) for a, b in zip(plain, snapped, strict=True))
    assert offset[0] == 7200.0 and 0 < seconds < 3600  # the two snapshots' hours are not training time
