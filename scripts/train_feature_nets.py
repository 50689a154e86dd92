"""Train the shipped metric classifiers: `.venv/bin/python scripts/train_feature_nets.py [mnist5k|digits ...]`.

A maintainer's script, outside the package: it sits above the trainer, which the metrics it feeds must not.

Seed 0, CPU, fp32, Adam 1e-3, batch 64, 15 epochs (mnist5k) or 40 (digits), through `dlcanon.train.fit`;
writes `src/dlcanon/assets/feature_<data>.pt` (state dict) and `feature_<data>.json` (test accuracy).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.metrics.feature_net import FeatureNet
from dlcanon.objectives.classifier import Classifier
from dlcanon.train import fit

EPOCHS = {"mnist5k": 15, "digits": 40}
ASSETS = Path(__file__).resolve().parents[1] / "src" / "dlcanon" / "assets"


def train(data: str, out: Path = ASSETS) -> dict:
    torch.manual_seed(0)
    bundle = load_data(data)
    objective = Classifier(FeatureNet(bundle.num_classes))
    cfg = TrainConfig(
        model="feature_net",
        data=data,
        epochs=EPOCHS[data],
        batch_size=64,
        lr=1e-3,
        optimizer="adam",
        device="cpu",
        precision="fp32",
        eval_every=0,
        tensorboard=False,
        seed=0,
    )
    summary = fit(objective, bundle, cfg)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(objective.network.state_dict(), out / f"feature_{data}.pt")
    record = {
        "dataset": data,
        "test_accuracy": summary["metrics"]["test_accuracy"],
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "command": f"python scripts/train_feature_nets.py {data}",
    }
    (out / f"feature_{data}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str]) -> None:
    for name in argv or list(EPOCHS):
        if name not in EPOCHS:
            raise SystemExit(f"expected one of {', '.join(EPOCHS)}; got {name!r}")
        print(train(name))


if __name__ == "__main__":
    main(sys.argv[1:])
