"""nnU-Net v2's experiment planning as pure functions (S3): spacing, topology, memory, patch, batch, configurations.

`plan_experiment(fingerprint, dataset_info, vram_gb=8)` returns the layout of nnU-Net's nnUNetPlans.json;
`read_fingerprint` / `read_dataset` read nnU-Net's own files; `dlcanon.plan.fingerprint.fingerprint_bundle`
fingerprints a dlcanon dataset; `planned_settings(plans, "2d")` is what a training run takes from a plan.
"""

from dlcanon.plan.files import read_dataset, read_fingerprint
from dlcanon.plan.planner import (
    DatasetInfo,
    Fingerprint,
    deep_supervision,
    plan_configuration,
    plan_experiment,
    planned_settings,
)
from dlcanon.plan.topology import deep_supervision_weights, feature_map_size, pool_and_kernel_sizes

__all__ = [
    "DatasetInfo",
    "Fingerprint",
    "deep_supervision",
    "deep_supervision_weights",
    "feature_map_size",
    "plan_configuration",
    "plan_experiment",
    "planned_settings",
    "pool_and_kernel_sizes",
    "read_dataset",
    "read_fingerprint",
]
