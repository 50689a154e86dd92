import pytest

from dlcanon.bench import ExampleNet, PerSampleDataset, markdown, run_benchmarks, time_to_reach
from dlcanon.bench.cli_latency import COMMANDS
from dlcanon.errors import UserError
from dlcanon.nn.summary import count_parameters


def test_example_net_is_the_classic_size():
    # conv 1→32 3×3 (320) + conv 32→64 3×3 (18,496) + FC 9216→128 (1,179,776) + FC 128→10 (1,290)
    assert count_parameters(ExampleNet()) == 320 + 18496 + 1179776 + 1290 == 1199882


def test_per_sample_dataset_normalises_like_the_example():
    import torch

    ds = PerSampleDataset(torch.tensor([[[[0.0, 1.0]]]]), torch.tensor([3]))
    x, y = ds[0]
    assert torch.allclose(x, torch.tensor([[[-0.1307 / 0.3081, (1 - 0.1307) / 0.3081]]])) and y == 3


def test_time_to_reach():
    history = [
        {"seconds": 1.0, "test_accuracy": 0.9},
        {"seconds": 2.0, "test_accuracy": 0.97},
        {"seconds": 3.0, "test_accuracy": 0.96},
    ]
    assert time_to_reach(history, 0.95) == 2.0 and time_to_reach(history, 0.99) is None


def test_unknown_benchmark():
    with pytest.raises(UserError, match="unknown benchmark"):
        run_benchmarks(["imagenet"])


@pytest.mark.slow
def test_bench_quick_smoke():
    results = run_benchmarks(["mnist5k", "report"], quick=True, progress=False)
    result = results["mnist5k"]
    t = result["time_to_accuracy"]
    assert 0 < t["baseline_accuracy"] <= 1 and 0 < t["dlcanon_accuracy"] <= 1
    assert result["trainer_overhead"]["bare_seconds"] > 0 and len(result["threads"]) == 3
    assert set(result["cli"]["seconds"]) == set(COMMANDS) and all(v > 0 for v in result["cli"]["seconds"].values())
    assert results["report"]["failed"] == 0 and set(results["report"]["experiments"]) == {"conv_output_size"}
    assert markdown(results).startswith("# Benchmarks")
