"""Every registered model that is not a plain classifier takes one real step through its own objective and the
Trainer on a few samples of its default data (models with no updates are fitted in closed form instead)."""

import pytest
import torch

from dlcanon.data import DataBundle, load_data
from dlcanon.registry import MODELS
from dlcanon.runs import build_objective, default_config
from dlcanon.train import Trainer

# ImageNet configurations (with an `input_shape` meta) are stepped on the meta device in test_models.py
NON_CLASSIFIERS = [
    e.name for e in MODELS if e.meta.get("objective", "classifier") != "classifier" and "input_shape" not in e.meta
]


def small(bundle: DataBundle, n_train: int, n_test: int) -> DataBundle:
    return DataBundle(
        bundle.name,
        bundle.train.subset(slice(0, n_train)),
        bundle.test.subset(slice(0, n_test)),
        bundle.num_classes,
        bundle.kind,
    )


@pytest.mark.parametrize("name", NON_CLASSIFIERS)
def test_model_steps_through_its_objective(name):
    torch.manual_seed(0)
    cfg = default_config(name, device="cpu", tensorboard=False, epochs=1, batch_size=8, eval_every=0)
    data = load_data(cfg.data, **cfg.data_args)
    objective = build_objective(cfg, small(data, 96, 16))
    trainer = Trainer(objective, small(data, 96, 16), cfg, progress=False)
    if not trainer.updates:  # fitted in closed form
        summary = trainer.fit()
        assert summary["steps"] == 0 and summary["metrics"], summary
        return
    before = {k: v.detach().clone() for k, v in objective.state_dict().items()}
    flag = torch.zeros((), dtype=torch.bool)
    logs = trainer.train_step(trainer.batches(0), flag)
    assert not bool(flag) and logs and all(torch.isfinite(v).all() for v in logs.values()), logs
    after = objective.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "no parameter moved"
