"""The bench's arithmetic and page from fake timings: interleaving, medians, ratios, verdicts (no clocks)."""

from dlcanon.bench import markdown
from dlcanon.bench import precision as precision_module
from dlcanon.bench.time_to_accuracy import compare
from dlcanon.bench.timing import interleaved, median, ratio, rotations
from test_docs_numbers import unsourced


def test_rotations_put_each_variant_first_in_turn():
    assert rotations(["a", "b", "c"], 4) == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]


def test_interleaved_runs_in_rotation_and_collects_each_variants_times():
    calls = []

    def variant(name, seconds):
        return lambda: calls.append(name) or seconds

    times = interleaved({"bare": variant("bare", 1.0), "trainer": variant("trainer", 2.0)}, 3)
    assert calls == ["bare", "trainer", "trainer", "bare", "bare", "trainer"]
    assert times == {"bare": [1.0, 1.0, 1.0], "trainer": [2.0, 2.0, 2.0]}


def test_median_counts_never_reached_as_infinite():
    assert median([3.0, 1.0, 2.0]) == 2.0 and median([1.0, None, 5.0]) == 5.0
    assert median([1.0, None, None]) is None and median([]) is None
    assert ratio(6.0, 2.0) == 3.0 and ratio(None, 2.0) is None and ratio(1.0, None) is None


def run(final, times):
    """A fake run: per-epoch (seconds, accuracy) with the given accuracies, 1 s an epoch unless `times`."""
    history = [{"seconds": t, "test_accuracy": a} for t, a in zip(times, final, strict=True)]
    return {"history": history, "test_accuracy": final[-1], "seconds": times[-1]}


def test_compare_takes_the_baselines_median_final_accuracy_and_each_sides_median_time():
    baselines = [run([0.96, 0.975, 0.975], [4, 8, 12]), run([0.97, 0.98, 0.97], [4, 8, 12]),
                 run([0.95, 0.96, 0.98], [4, 8, 12])]  # fmt: skip
    ours = [run([0.97, 0.98], [1, 2]), run([0.975, 0.99], [1, 2]), run([0.9, 0.96], [1, 2])]
    c = compare(baselines, ours)
    assert c["target_accuracy"] == 0.975  # finals 0.975, 0.97, 0.98
    assert c["per_seed_seconds_to_target"] == {"baseline": [8, 8, 12], "dlcanon": [2, 1, None]}
    assert c["seconds_to_target"] == {"baseline": 8, "dlcanon": 2}
    assert c["speedup"] == 4.0 and c["speedup_vs_whole_baseline"] == 6.0
    assert c["dlcanon_accuracy"] == 0.98 and c["dlcanon_min_accuracy"] == 0.96


def fake_results(native_bf16: bool) -> dict:
    times = {"seconds_to_target": {"baseline": 20.0, "dlcanon": 2.5}, "speedup": 8.0, "speedup_vs_whole_baseline": 20.0,
             "target_accuracy": 0.975, "baseline_accuracy": 0.975, "dlcanon_accuracy": 0.985,
             "dlcanon_min_accuracy": 0.979, "baseline_seconds": 50.0, "dlcanon_seconds": 4.0, "preset": "fastcnn",
             "command": "dlcanon train fastcnn --device cpu --seed SEED", "seeds": 3, "baseline_epochs": 14,
             "dlcanon_epochs": 8, "baseline_params": 1199882, "dlcanon_params": 5000, "dlcanon_threads": 1}  # fmt: skip
    precision = {"model": "resnet20", "native_bf16": native_bf16, "cpu_capability": "AVX2"}
    if native_bf16:
        precision |= {"fp32_seconds": 0.2, "bf16_channels_last_seconds": 0.1, "speedup": 2.0}
    return {
        "command": "dlcanon bench mnist5k",
        "mnist5k": {
            "machine": {"platform": "Linux x86_64", "cpu_capability": "AVX2", "cores": 2, "threads": 2,
                        "torch": "2.x", "load_average": 1.5, "date": "2026-01-01 00:00 UTC", "cuda": None},
            "time_to_accuracy": times,
            "trainer_overhead": {"model": "lenet5", "steps": 124, "repeats": 7, "bare_seconds": 1.0,
                                 "trainer_seconds": 1.05, "overhead": 0.05, "noise": 0.12,
                                 "ratio_range": [-0.04, 0.11]},
            "threads": [{"model": "LeNet-5", "threads_all": 2, "auto_threads": 1, "seconds_1": 0.004,
                         "seconds_all": 0.009, "seconds_auto": 0.004, "best": "1"}],
            "precision": precision,
        },
    }


def test_the_page_names_command_machine_and_date_and_judges_each_target():
    page = markdown(fake_results(native_bf16=False))
    assert page.startswith("# Benchmarks") and "dlcanon bench mnist5k --markdown docs/benchmarks.md" in page
    assert "2026-01-01" in page and "AVX2" in page and "load average 1.5" in page
    assert "GPU throughput" in page and "no CUDA device on this machine" in page
    assert "**8.00×**" in page and "(target ≥ 5×: met)" in page
    assert "lowest 97.90% (target ≥ 98.0%: **not met**)" in page  # one seed below 98 %
    assert "**+5.0%**" in page and "target ≤ 3%: **not met**" in page
    assert "varied by 12.0% (slowest over fastest)" in page and "from -4.0% to +11.0%" in page
    assert "| LeNet-5 | 0.0040 | 0.0090 | 1 | 0.0040 | 1 |" in page
    assert "Not timed" in page and "no native bf16" in page
    assert "- final accuracy: lowest seed 97.90%, 0.1 points below 98.0%" in page
    assert "- trainer overhead: +5.0%, 2.0 points above 3%, inside the noise floor" in page
    assert "time to the baseline's" not in page.split("Against the targets")[1]
    assert unsourced(page) == []  # every number on the page is traced to its command
    assert "**2.00×**" in markdown(fake_results(native_bf16=True))


def test_the_page_judges_the_command_line_and_the_whole_report():
    results = fake_results(native_bf16=True)
    reference = 'python -c "import torch"'
    seconds = {reference: 2.5, "dlcanon --help": 0.4, "dlcanon list data": 1.2}
    results["mnist5k"]["cli"] = {"reference": reference, "repeats": 5, "seconds": seconds}
    machine = results["mnist5k"]["machine"]
    results["command"] = "dlcanon bench mnist5k report"
    results["report"] = {"machine": machine, "wall_seconds": 960.0, "jobs": 2, "failed": 0,
                         "experiments": {"fast": 3.0, "slow": 75.0, "slower": 200.0}}  # fmt: skip
    page = markdown(results)
    assert "| `dlcanon --help` | 0.40 | < 1 s: met |" in page and f"| `{reference}` | 2.50 | reference |" in page
    assert "| `dlcanon list data` | 1.20 | < 1 s: **not met** |" in page
    assert "**16.0 min** wall (target ≤ 15 min: **not met**)" in page and "2 experiment(s) took over 60 s" in page
    assert page.index("| `slower` | 200 |") < page.index("| `slow` | 75 |") < page.index("| `fast` | 3 |")
    missed = page.split("Against the targets")[1]
    assert "- commands answering in ≥ 1 s: dlcanon list data" in missed
    assert "- the quick report: 16.0 min against ≤ 15 min" in missed
    assert "- 2 quick experiment(s) over 60 s: slower 200 s, slow 75 s" in missed
    assert unsourced(page) == []
    alone = markdown({"command": "dlcanon bench report", "report": results["report"]})  # the report benchmark alone
    assert alone.startswith("# Benchmarks") and "The whole quick report" in alone and "Time to" not in alone


def test_precision_is_not_timed_without_native_bf16(monkeypatch):
    monkeypatch.setattr(precision_module, "native_bf16", lambda: False)
    out = precision_module.precision_speedup(steps=1, repeats=1)
    assert out["native_bf16"] is False and "speedup" not in out

