"""Benchmarks, side by side with a baseline in one run (`dlcanon bench mnist5k`): time to the classic PyTorch
recipe's accuracy, the trainer against a bare loop, threads chosen for the model, bf16 against fp32.

One module per measurement; `timing` holds the interleaving and medians they share, `page` the Markdown.
"""

from dlcanon.bench.baseline import ExampleNet, PerSampleDataset, run_baseline
from dlcanon.bench.page import markdown
from dlcanon.bench.suite import BENCHMARKS, run_benchmarks
from dlcanon.bench.timing import time_to_reach

__all__ = ["BENCHMARKS", "ExampleNet", "PerSampleDataset", "markdown", "run_baseline", "run_benchmarks",
           "time_to_reach"]  # fmt: skip
