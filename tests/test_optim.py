"""The optimiser registry's builders use PyTorch's fused kernels where the device has them, with the update of
the per-tensor loop (up to float rounding)."""

import pytest
import torch

from dlcanon.optim import make_optimizer

SETTINGS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 1e-4},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 5e-4},
}
TORCH = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_fused_builders_match_the_per_tensor_loop(name):
    torch.manual_seed(0)
    start = [torch.randn(64, 32), torch.randn(32)]
    ours = [p.clone().requires_grad_() for p in start]
    loop = [p.clone().requires_grad_() for p in start]
    opt = make_optimizer(ours, {"optimizer": name, **SETTINGS[name]})
    assert opt.defaults["fused"] is True
    reference = TORCH[name](loop, foreach=False, **SETTINGS[name])
    g = torch.Generator().manual_seed(1)
    for _ in range(100):
        for a, b in zip(ours, loop, strict=True):
            a.grad = torch.randn(a.shape, generator=g)
            b.grad = a.grad.clone()
        opt.step()
        reference.step()
    for a, b in zip(ours, loop, strict=True):
        assert not torch.equal(a.detach(), start[0] if a.dim() == 2 else start[1])  # they moved
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-6, atol=1e-6)
