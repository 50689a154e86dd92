"""Exponential moving average of named submodules: a GAN's generator, a diffusion model's denoiser.

θ̄₀ = θ₀, then θ̄ ← d·θ̄ + (1 − d)·θ after every step, for the parameters and the normalisation layers' running
statistics under the averaged names; everything else in the averaged copy follows the live weights — other
buffers too (a growing network's level and fade-in α must be the live ones, not an average of past ones), and
all of it until the first update (so a closed-form fit in `prepare` is what an unstepped run reports). The
state dict has the layout of `torch.optim.swa_utils.AveragedModel` ("module.<name>" and "n_averaged"), which
`runs.load_run` reads.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer by name, each shared tensor once, detached (in place updates reach the model)."""
    return {k: v.detach() for k, v in [*model.named_parameters(), *model.named_buffers()]}


def averageable(model: nn.Module) -> set[str]:
    """Names of the tensors an EMA averages: floating-point parameters and normalisation running statistics."""
    names = {k for k, v in model.named_parameters() if v.is_floating_point()}
    for prefix, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._NormBase):
            stats = [b for b, v in module.named_buffers(recurse=False) if b in ("running_mean", "running_var")]
            names |= {f"{prefix}.{b}" if prefix else b for b in stats}
    return names


class EMA:
    """`module` is a copy of `model` whose submodules `names` ("" = all of it) hold the averaged weights."""

    def __init__(self, model: nn.Module, names: list[str], decay: float) -> None:
        for name in names:
            model.get_submodule(name)  # an AttributeError names a submodule that does not exist
        self.live, self.decay, self.n_averaged = model, float(decay), 0
        self.module = copy.deepcopy(model)
        prefixes = tuple(name + "." if name else "" for name in names)
        live, own = tensors(model), tensors(self.module)
        averaged = {k for k in averageable(self.module) if k.startswith(prefixes)}
        self._avg = [(own[k], live[k]) for k in own if k in averaged]
        self._follow = [(own[k], live[k]) for k in own if k not in averaged]

    @torch.no_grad()
    def update(self) -> None:
        """θ̄ ← d·θ̄ + (1 − d)·θ for the averaged tensors (a copy at the first update)."""
        own, live = [a for a, _ in self._avg], [b for _, b in self._avg]
        if own and self.n_averaged == 0:
            torch._foreach_copy_(own, live)
        elif own:
            torch._foreach_lerp_(own, live, 1.0 - self.decay)
        self.n_averaged += 1

    @torch.no_grad()
    def averaged(self) -> nn.Module:
        """The copy, its non-averaged tensors brought up to date with the live model (all of them before the
        first update: the live model is then the average)."""
        pairs = self._follow if self.n_averaged else [*self._follow, *self._avg]
        for own, live in pairs:
            own.copy_(live)
        return self.module

    def state_dict(self) -> dict[str, Any]:
        state = {f"module.{k}": v for k, v in self.averaged().state_dict().items()}
        return state | {"n_averaged": torch.tensor(self.n_averaged)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict({k.removeprefix("module."): v for k, v in state.items() if k != "n_averaged"})
        self.n_averaged = int(state["n_averaged"])
