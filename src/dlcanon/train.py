"""One trainer that knows no model: it steps an Objective's declared updates over a DataBundle.

Device and precision, channels_last, torch.compile, DistributedDataParallel under torchrun, a budget in epochs
or steps, gradient accumulation, LR schedules, gradient clipping, EMA of the modules the objective names,
metrics to `metrics.jsonl` and TensorBoard, atomic checkpoints with every state needed to resume to the same
final weights, Ctrl-C and NaN handling. Every player's optimiser comes from the run's configuration
(`dlcanon.optim`); the objective hears the step and the horizon before every step (`Objective.on_step`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dlcanon import checkpoint
from dlcanon.config import TrainConfig
from dlcanon.data import Augment, DataBundle, DeviceLoader
from dlcanon.distributed import Dist, cleanup, init_from_env
from dlcanon.ema import EMA
from dlcanon.errors import Interrupted, NonFiniteLoss, UserError
from dlcanon.objectives.base import Objective, Update
from dlcanon.optim import make_optimizer, run_settings, used
from dlcanon.progress import progress_bar
from dlcanon.runtime import autocast, choose_threads, forward_flops, resolve_precision, select_device
from dlcanon.schedules import schedule


def player_settings(cfg: TrainConfig, updates: list[Update]) -> dict[str, dict[str, Any]]:
    """Each player's optimiser settings: the run's, with `cfg.players[name]` on top; an unknown player is an error."""
    names = [u.name for u in updates]
    unknown = sorted(set(cfg.players) - set(names))
    if unknown:
        raise UserError(f"players: this objective's players are {', '.join(names) or 'none'}; got {', '.join(unknown)}")
    base = run_settings(cfg)
    return {name: used(base | cfg.players.get(name, {})) for name in names}


def logged_by(line: str, step: int) -> bool:
    """Whether a metrics.jsonl line is a record of a step ≤ `step` (a line torn by a kill is not)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step


class Trainer:
    """Runs `cfg.steps` steps (or `cfg.epochs` epochs) of the objective's updates; `fit()` returns the summary."""

    def __init__(
        self,
        objective: Objective,
        data: DataBundle,
        cfg: TrainConfig,
        *,
        out_dir: Path | None = None,
        resume: bool = False,
        progress: bool = True,
        snapshot: Callable[[int, Objective], None] | None = None,
        snapshot_steps: Iterable[int] = (),
    ) -> None:
        """`snapshot(step, model)` runs after each step in `snapshot_steps` (0: before the first step) with
        the model (the EMA one when EMA is on) in eval mode and no gradients: samples over training."""
        self.cfg = cfg.validate()
        self.snapshot, self.snapshot_steps = snapshot, frozenset(snapshot_steps)
        self.device = select_device(cfg.device)
        if self.device.type == "cpu":
            # Adam's second moments of tiny gradients fall into denormal floats, which x86 CPUs process
            # 10-100× slower; flushing them to zero changes no result that matters and keeps steps fast.
            torch.set_flush_denormal(True)
        self.dist: Dist = init_from_env(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.precision = resolve_precision(cfg.precision, self.device, conv=objective.has_conv)
        if self.precision == "fp16" and self.device.type != "cuda":
            raise UserError(f"precision fp16 needs a CUDA device; got {self.device.type} (use bf16 or fp32)")
        self.run_dir = None if out_dir is None else Path(out_dir)  # every rank reads checkpoints here
        self.out_dir = self.run_dir if self.dist.is_main else None  # rank 0 alone writes
        self.resume, self.show_progress = resume, progress and self.dist.is_main
        self.data = data
        image = len(data.input_shape) == 3  # (C, H, W) inputs: channels_last helps 2-D convolutions
        self.memory_format = torch.channels_last if cfg.channels_last and objective.has_conv and image else None
        objective.check_data(data.train)  # before anything is moved, built or written
        self.objective = objective.to(self.device)
        if self.memory_format is not None:
            self.objective.to(memory_format=self.memory_format)
        augment = Augment.parse(cfg.augment) if cfg.augment else None
        if augment is not None and data.train.x.dim() not in (4, 5):
            raise UserError(
                f"augment {cfg.augment!r} transforms images or volumes; {data.name}'s inputs are shaped "
                f"{data.input_shape} (use --set augment= to train without it)"
            )
        self.train_loader = DeviceLoader(
            data.train.to(self.device),
            cfg.batch_size,
            seed=cfg.seed,
            augment=augment,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            channels_last=self.memory_format is not None,
        )
        self.test_split = data.test.to(self.device)
        self.updates: list[Update] = objective.updates()
        self.batches_per_step = sum(u.repeat for u in self.updates) * cfg.accumulate
        # an objective with no updates is fitted in closed form by `prepare` and takes no steps
        self.steps_per_epoch = len(self.train_loader) // self.batches_per_step if self.updates else 0
        if self.updates and self.steps_per_epoch < 1:
            raise UserError(f"batch_size {cfg.batch_size} leaves no full step in {len(data.train)} training samples")
        self.total_steps = (cfg.steps or cfg.epochs * self.steps_per_epoch) if self.updates else 0
        self.optimizer_settings = player_settings(cfg, self.updates)  # as built; recorded in config.json
        self.optimizers = [make_optimizer(u.parameters, self.optimizer_settings[u.name]) for u in self.updates]
        self.gradients = list(self.objective.parameters())  # every step clears all of them (`player_step`)
        factor = schedule(
            cfg.schedule,
            self.total_steps,
            warmup=cfg.warmup,
            step_size=cfg.step_size or self.steps_per_epoch,
            gamma=cfg.gamma,
        )
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in self.optimizers]
        # one loss scaler per player, updated once after each of its optimiser steps (a scaler steps each
        # optimiser at most once between updates, and one player's overflow says nothing about another's)
        self.scalers = [
            torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16") for _ in self.updates
        ]
        self.ema = EMA(self.objective, objective.ema_modules(), cfg.ema) if cfg.ema > 0 else None
        self.runner: nn.Module = self.objective
        self.ddp: DistributedDataParallel | None = None
        if self.dist.enabled:
            self.runner = self.ddp = DistributedDataParallel(
                self.objective,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=len(self.updates) > 1,
            )
        if cfg.compile:
            self.runner = torch.compile(self.runner)
        self.threads = self.choose_threads()  # recorded in config.json and the summary
        self.step = 0
        self.seconds = 0.0
        # train values summed since the last log record, saved with the checkpoint: a run resumed from a
        # checkpoint between two log steps logs the same averages as one never stopped
        self.log_sums: dict[str, torch.Tensor] = {}
        self.log_count = 0
        self.last_save = time.monotonic()  # wall clock of the last checkpoint (checkpoint_minutes)
        self.history: list[dict[str, Any]] = []
        self._writer = None
        self._stop_requested = False
        # a --resume's checkpoint is read now, before the caller writes anything: an unreadable or foreign
        # file is a UserError that leaves the run directory as it was
        self.resume_state = self.read_checkpoint() if resume else None

    def choose_threads(self) -> int:
        """`threads`, or (0: auto) on the CPU as many intra-op threads as one batch's forward FLOPs pay for
        (`runtime.choose_threads`), never more than the process has (`torch.get_num_threads()`, which
        OMP_NUM_THREADS or a caller sets). The FLOPs are counted on a copy of the objective, on a fork of the
        random generators: the run's random stream and weights are those of a run given the same count."""
        available = torch.get_num_threads()
        if self.cfg.threads or self.device.type != "cpu" or not self.updates or available == 1:
            return self.cfg.threads or available  # nothing to choose: no FLOPs are counted
        probe, batch = copy.deepcopy(self.objective), next(self.train_loader.epoch(0))
        return choose_threads(forward_flops(lambda: probe(batch, self.updates[0].name)), available)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """First Ctrl-C: finish the current step, save, stop. Second: stop at once."""
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True

    # ------------------------------------------------------------------ helpers
    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.precision, self.device)

    def batches(self, position: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """The endless batch stream from global batch `position` on: a pure function of (seed, position)."""
        epoch, start = divmod(position, len(self.train_loader))
        while True:
            yield from self.train_loader.epoch(epoch, start)
            epoch, start = epoch + 1, 0

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """The whole test split in order, in batches of `eval_batch_size`."""
        loader = DeviceLoader(
            self.test_split,
            self.cfg.eval_batch_size,
            shuffle=False,
            drop_last=False,
            channels_last=self.memory_format is not None,
        )
        return loader.epoch(0)

    def evaluate(self) -> dict[str, float]:
        """Test metrics with the EMA weights when EMA is on."""
        with self.evaluating() as model:
            metrics = model.evaluate(self.eval_batches())
        return {f"test_{k}": v for k, v in metrics.items()}

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[Objective]:
        """The model to evaluate (EMA weights when EMA is on) in eval mode, without gradients."""
        model = self.ema.averaged() if self.ema is not None else self.objective
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), self.autocast():
                yield model
        finally:
            model.train(was_training)

    def take_snapshot(self) -> float:
        """Call `snapshot` at a requested step; return the seconds it took (not training time).

        It runs on a fork of the random generators, so drawing samples leaves the run's later noise, and with
        it the trained weights, exactly as they are without snapshots."""
        if self.snapshot is None or self.step not in self.snapshot_steps:
            return 0.0
        start = time.perf_counter()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []  # the CPU generator always
        with torch.random.fork_rng(devices=devices), self.evaluating() as model:
            self.snapshot(self.step, model)
        return time.perf_counter() - start

    @property
    def writer(self):
        if self._writer is None and self.out_dir is not None and self.cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.out_dir), purge_step=self.step or None)
            config = json.dumps(self.cfg.to_dict() | {"optimizers": self.optimizer_settings}, indent=2, default=str)
            self._writer.add_text("config", f"```json\n{config}\n```", self.step)  # the run's hyper-parameters
        return self._writer

    def log(self, record: dict[str, Any]) -> None:
        record = {"step": self.step, "epoch": self.step / max(1, self.steps_per_epoch), **record}
        if self.out_dir is None:
            return
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("step", "epoch") and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, self.step)
            if any(key.startswith("test_") for key in record):  # an evaluation: the objective's pictures too
                self.log_views()

    def log_views(self, n: int = 64) -> None:
        """The objective's declared views (a generative model's samples, reconstructions, ...) as TensorBoard
        images, drawn on a forked RNG so that logging changes nothing the run computes."""
        from dlcanon.objectives.views import view_pixels

        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), self.evaluating() as model:
            views = model.views(self.data.test, n)
        for name, view in views.items():
            self.writer.add_image(f"views/{name}", view_pixels(view, self.data.test.x), self.step, dataformats="HWC")

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step,
            "seconds": self.seconds,
            "objective": self.objective.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "scalers": [s.state_dict() for s in self.scalers],
            "rng_cpu": torch.get_rng_state(),
            "history": self.history,
            "config": self.cfg.to_dict(),
            "log_pending": {"sums": self.log_sums, "count": self.log_count},
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.objective.load_state_dict(state["objective"])
        for opt, s in zip(self.optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(s)
        for sched, s in zip(self.schedulers, state["schedulers"], strict=True):
            sched.load_state_dict(s)
        for scaler, s in zip(self.scalers, state["scalers"], strict=True):
            scaler.load_state_dict(s)
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)
        self.step, self.seconds, self.history = state["step"], state["seconds"], list(state["history"])
        pending = state.get("log_pending", {})  # absent from checkpoints written at log steps only
        self.log_sums, self.log_count = dict(pending.get("sums", {})), int(pending.get("count", 0))

    def save(self) -> None:
        if self.out_dir is not None:
            checkpoint.save_atomic(self.state_dict(), self.out_dir / "checkpoint.pt")
        self.last_save = time.monotonic()

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The run directory's checkpoint (None when it has none); UserError when unreadable or foreign."""
        path = None if self.run_dir is None else self.run_dir / "checkpoint.pt"
        if path is None or not path.exists():
            return None
        return checkpoint.load(path, map_location=self.device)

    def try_resume(self) -> None:
        if self.resume_state is None:
            return
        path, state, self.resume_state = self.run_dir / "checkpoint.pt", self.resume_state, None
        try:
            step = state["step"]
            if not isinstance(step, int) or not 0 <= step <= self.total_steps:
                raise ValueError(f"step {step!r} is not in 0..{self.total_steps}")
            if not isinstance(state["history"], list) or not all(isinstance(r, dict) for r in state["history"]):
                raise ValueError("its history is not a list of records")
            self.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError) as exc:
            # another version's, another model's or another program's checkpoint
            detail = f"missing {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())[:200]
            raise UserError(f"{path} does not fit this run ({detail}); train into another --out") from None
        metrics = path.parent / "metrics.jsonl"
        if (
            self.out_dir is not None and metrics.exists()
        ):  # drop records logged after the checkpoint: the resumed run logs them again
            kept = [ln for ln in metrics.read_text(errors="replace").splitlines() if logged_by(ln, self.step)]
            tmp = metrics.with_name(f".{metrics.name}.tmp")
            tmp.write_text("".join(ln + "\n" for ln in kept))
            os.replace(tmp, metrics)

    # ------------------------------------------------------------------ the loop
    def train_step(self, stream: Iterator, losses: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step: every player's optimiser steps `repeat` times, in the declared order; every loss is added
        to `losses`."""
        self.objective.on_step(self.step, self.total_steps)
        logs: dict[str, torch.Tensor] = {}
        for update, opt, scaler in zip(self.updates, self.optimizers, self.scalers, strict=True):
            for _ in range(update.repeat):
                values = self.player_step(update, opt, scaler, stream, losses)
            prefix = "" if len(self.updates) == 1 else f"{update.name}_"
            logs.update({f"train_{prefix}{k}": v for k, v in values.items()})
        for sched in self.schedulers:
            sched.step()
        if self.ema is not None:
            self.ema.update()
        return logs

    def player_step(
        self,
        update: Update,
        opt: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        stream: Iterator,
        losses: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """One optimiser step on K = `accumulate` micro-batches: ∇(1/K Σ_k L_k), the gradient of the mean loss
        over the K·B samples when each L_k is a mean over B; returns the logged values averaged over the K."""
        k = self.cfg.accumulate
        # every gradient is cleared, not only this player's: a generator loss back-propagates through the
        # critic too, and those gradients must not leak into the critic's next step
        for p in self.gradients:  # Module.zero_grad, without walking the module tree every step
            p.grad = None
        sums: dict[str, torch.Tensor] = {}
        for i in range(k):
            batch = next(stream)
            # under DDP, gradients are all-reduced once, with the last micro-batch's backward pass
            sync = self.ddp.no_sync() if self.ddp is not None and i < k - 1 else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    loss, values = self.runner(batch, update.name)
                scaler.scale(loss if k == 1 else loss / k).backward()
            losses.add_(loss.detach())  # one op a micro-batch; a NaN or ±inf in any loss stays in the sum
            for key, v in values.items():
                sums[key] = v if k == 1 else sums.get(key, 0.0) + v / k
        if self.cfg.grad_clip > 0:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(update.parameters, self.cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        return sums

    def due(self) -> set[str]:
        """What the step just finished calls for: "log", "eval" (end of an evaluated epoch), "checkpoint"."""
        cfg, step, last = self.cfg, self.step, self.step == self.total_steps
        due = set()
        if step % cfg.log_every == 0:
            due.add("log")
        epoch, within = divmod(step, self.steps_per_epoch)
        if last or (within == 0 and cfg.eval_every and epoch % cfg.eval_every == 0):
            due.add("eval")
        if last or step % (cfg.checkpoint_every or self.steps_per_epoch) == 0 or self.checkpoint_overdue():
            due.add("checkpoint")
        return due

    def checkpoint_overdue(self) -> bool:
        """`checkpoint_minutes` of wall time have passed since the last checkpoint (0: never).

        The clock decides only when a checkpoint is written, never what a step computes: a checkpoint reads
        no random numbers and writes no log record, so the weights at every step are the same with or
        without it, and a run resumed from any checkpoint goes on exactly as the uninterrupted one."""
        minutes = self.cfg.checkpoint_minutes
        return self.out_dir is not None and minutes > 0 and time.monotonic() - self.last_save >= 60 * minutes

    def fit(self) -> dict[str, Any]:
        if self.resume:
            self.try_resume()
        if self.step == 0:
            self.objective.prepare(self.train_loader.split)
            self.take_snapshot()
        self.objective.train()
        # the sum of every loss since this process began training, in float64 (float32 on MPS, which has no
        # float64): finite losses cannot overflow it, and one non-finite loss makes it non-finite for good. One
        # in-place add a micro-batch; it is read (a device sync) only when a step is due to log or save.
        wide = torch.float32 if self.device.type == "mps" else torch.float64
        losses = torch.zeros((), dtype=wide, device=self.device)
        self.last_save = time.monotonic()
        stream = self.batches(self.step * self.batches_per_step)
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if in_main_thread else None
        bar = progress_bar(self.total_steps, "train", enabled=self.show_progress, completed=self.step)
        available = torch.get_num_threads()  # restored below
        torch.set_num_threads(self.threads)
        try:
            with bar:
                tick = time.perf_counter()
                while self.step < self.total_steps:
                    logs = self.train_step(stream, losses)
                    self.step += 1
                    tick += self.take_snapshot()  # snapshot time is not training time
                    for k, v in logs.items():
                        self.log_sums[k] = self.log_sums.get(k, 0.0) + v.float()
                    self.log_count += 1
                    due = self.due()
                    if not (due or self._stop_requested):
                        continue
                    if not bool(losses.isfinite()):  # checked before anything is saved: a checkpoint is always good
                        raise NonFiniteLoss(f"the loss became NaN or infinite before step {self.step}")
                    self.seconds += time.perf_counter() - tick
                    if due & {"log", "eval"}:  # a checkpoint alone writes no record: records never depend on time
                        record = {k: float(v) / self.log_count for k, v in self.log_sums.items()}
                        record.update(lr=self.schedulers[0].get_last_lr()[0], seconds=self.seconds)
                        if "eval" in due:
                            record.update(self.evaluate())
                            self.history.append(dict(record, step=self.step))
                        self.log(record)
                        bar.update(self.step, record)
                        self.log_sums, self.log_count = {}, 0
                    if "checkpoint" in due:
                        self.save()
                    if self._stop_requested:  # Ctrl-C: stop at this step boundary, with a checkpoint
                        if "checkpoint" not in due:
                            self.save()
                        raise Interrupted(f"interrupted at step {self.step}; checkpoint saved, --resume continues")
                    tick = time.perf_counter()
            if self.total_steps == 0:  # closed-form fit: evaluate and save once
                self.history.append({"step": 0, **self.evaluate()})
                self.log(self.history[-1])
                self.save()
        finally:
            torch.set_num_threads(available)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if self._writer is not None:
                self._writer.close()
        return self.summary()

    @property
    def epochs(self) -> float:
        """The run's length in epochs: the configured epochs, or what a step budget amounts to."""
        if self.cfg.steps and self.steps_per_epoch:
            return round(self.total_steps / self.steps_per_epoch, 3)
        return self.cfg.epochs

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else self.evaluate()
        metrics = {k: v for k, v in last.items() if k.startswith(("test_", "train_"))}
        return {
            "model": self.cfg.model,
            "preset": self.cfg.preset,
            "data": self.cfg.data,
            "objective": self.cfg.objective,
            "params": sum(p.numel() for p in self.objective.parameters()),
            "seconds": round(self.seconds, 3),
            "steps": self.step,
            "epochs": self.epochs,
            "device": str(self.device),
            "precision": self.precision,
            "threads": self.threads,
            "world_size": self.dist.world_size,
            "metrics": metrics,
        }

    def close(self) -> None:
        cleanup(self.dist)


def fit(
    objective: Objective,
    data: DataBundle,
    cfg: TrainConfig,
    *,
    out_dir: Path | None = None,
    progress: bool = False,
    snapshot: Callable[[int, Objective], None] | None = None,
    snapshot_steps: Iterable[int] = (),
) -> dict[str, Any]:
    """Train in-process (for experiments and benchmarks): no files unless `out_dir` is given."""
    trainer = Trainer(
        objective, data, cfg, out_dir=out_dir, progress=progress, snapshot=snapshot, snapshot_steps=snapshot_steps
    )
    summary = trainer.fit()
    summary["history"] = trainer.history
    return summary
