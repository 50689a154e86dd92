"""`dlcanon reproduce --precision fp32|bf16`: what `auto` precision resolves to, whatever the hardware, so the
claims check can run both ways and a verdict cannot depend on the machine's bf16."""

from __future__ import annotations

import pytest
import torch

from dlcanon.errors import UserError
from dlcanon.experiments.context import Context
from dlcanon.reproduce import command_for, context, key_for
from dlcanon.runtime import assume_bf16, native_bf16, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize(("assumed", "conv_net"), [(True, "bf16"), (False, "fp32")])
def test_auto_follows_the_assumed_hardware_for_conv_nets_only(assumed, conv_net):
    with assume_bf16(assumed):
        assert native_bf16(CPU) is assumed
        assert resolve_precision("auto", CPU, conv=True) == conv_net
        assert resolve_precision("auto", CPU, conv=False) == "fp32"  # MLPs stay fp32 everywhere
        assert resolve_precision("fp32", CPU, conv=True) == "fp32"  # a fixed precision is kept
    assert native_bf16(CPU) == torch.ops.mkldnn._is_mkldnn_bf16_supported()  # restored on leaving


@pytest.mark.parametrize(("precision", "expected"), [("bf16", "bf16"), ("fp32", "fp32")])
def test_a_contexts_precision_is_in_force_while_it_is_applied(precision, expected):
    ctx = Context(precision=precision)
    with ctx.applied():
        assert resolve_precision("auto", CPU, conv=True) == expected
    with Context().applied():
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
        assert resolve_precision("auto", CPU, conv=True) == ("bf16" if native else "fp32")


def test_precision_names_the_command_and_separates_the_cache():
    assert command_for("vae_mnist", True) == "dlcanon reproduce vae_mnist --quick"
    assert command_for("vae_mnist", True, 0, "bf16") == "dlcanon reproduce vae_mnist --quick --precision bf16"
    keys = {p: key_for("vae_mnist", context(quick=True, device="cpu", precision=p)) for p in ("auto", "fp32", "bf16")}
    assert len(set(keys.values())) == 3


def test_an_unknown_precision_is_a_user_error():
    with pytest.raises(UserError, match="--precision"):
        context(quick=True, device="cpu", precision="fp16")
