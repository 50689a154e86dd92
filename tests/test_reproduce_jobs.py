"""`dlcanon reproduce --jobs N`: experiments in worker processes give the records of the serial run."""

from __future__ import annotations

import os

import pytest
import torch

from dlcanon.experiments.base import Result, Table
from dlcanon.plots import figure
from dlcanon.registry import EXPERIMENTS
from dlcanon.reproduce import default_jobs, last_seconds, run_experiments


def toy_draws(ctx) -> Result:
    """Random draws from the context's seed, a figure, a table: what a worker must reproduce exactly."""
    x = torch.randn(5)
    fig, (ax,) = figure(1)
    ax.plot(x.tolist())
    table = Table("draws", ["x"], [[v] for v in x.tolist()])
    numbers = {"draws": x.tolist(), "threads": torch.get_num_threads()}
    verdict = f"sum {float(x.sum()):.6f}"
    return Result(verdict, bool(x.sum() > 0), tables=[table], figures={"draws": fig}, numbers=numbers)


def toy_other_draws(ctx) -> Result:
    ctx.manual_seed(7)
    return Result("other", True, numbers={"draws": torch.rand(3).tolist()})


def toy_dies(ctx) -> Result:
    os._exit(3)  # a worker killed mid-experiment (out of memory, a signal)


TOYS = {"toy_jobs_draws": toy_draws, "toy_jobs_other": toy_other_draws, "toy_jobs_dies": toy_dies,
        "toy_jobs_dies_too": toy_dies}  # fmt: skip


@pytest.fixture
def toys():
    for name, fn in TOYS.items():
        EXPERIMENTS.add(name, fn, tags=("F5",), claim=f"{name}.")  # module-level builders: workers unpickle them
    yield
    for name in TOYS:
        EXPERIMENTS._entries.pop(name)


def comparable(record: dict) -> dict:
    """A record without its timing, and without the code hashes, which a file edited between two runs moves."""
    return {k: v for k, v in record.items() if k not in ("seconds", "cached", "cache_key", "code_version")}


@pytest.mark.slow  # two spawned workers import torch and the experiments: 10-20 s on 2 cores
def test_workers_give_the_serial_records_and_save_the_figures(tmp_path, toys):
    names = ["toy_jobs_draws", "toy_jobs_other"]
    serial = run_experiments(names, quick=True, out=tmp_path / "serial", device="cpu", jobs=1)
    parallel = run_experiments(names, quick=True, out=tmp_path / "parallel", device="cpu", jobs=2)
    assert [r["name"] for r in parallel["experiments"]] == names  # the report keeps the given order
    for one, other in zip(serial["experiments"], parallel["experiments"], strict=True):
        assert one["status"] == other["status"] == "ok"
        assert comparable(one) == comparable(other)
    assert (tmp_path / "parallel" / "toy_jobs_draws" / "draws.png").is_file()
    assert (tmp_path / "parallel" / "index.html").is_file() and (tmp_path / "parallel" / "results.json").is_file()
    assert last_seconds(tmp_path / "parallel", "toy_jobs_draws") >= 0 and last_seconds(tmp_path, "nothing") == 0


@pytest.mark.slow
def test_a_dead_worker_is_a_failed_record_not_a_crash(tmp_path, toys):
    report = run_experiments(["toy_jobs_dies", "toy_jobs_dies_too"], quick=True, out=tmp_path, device="cpu", jobs=2)
    assert report["failed"] == 2
    assert all("worker process failed" in r["error"] for r in report["experiments"])


def test_jobs_default_to_the_cores_on_the_cpu_and_one_on_an_accelerator():
    assert 1 <= default_jobs("cpu") <= min(len(os.sched_getaffinity(0)), 4)
    assert default_jobs("cuda") == 1


def test_negative_jobs_are_a_user_error(tmp_path):
    from dlcanon.errors import UserError

    with pytest.raises(UserError, match="--jobs"):
        run_experiments(["conv_output_size"], quick=True, out=tmp_path, jobs=-1)
