import pytest

from dlcanon.errors import UserError
from dlcanon.registry import Registry


def test_register_build_and_names():
    reg = Registry("thing")

    @reg.register("alpha", tags=("F1",), data="digits")
    def alpha(x, *, scale=1):
        """Alpha builder."""
        return x * scale

    reg.add("beta", lambda: "b")
    assert reg.names() == ["alpha", "beta"]
    assert reg.build("alpha", 2, scale=3) == 6
    entry = reg.entry("alpha")
    assert entry.tags == ("F1",) and entry.meta == {"data": "digits"} and entry.doc == "Alpha builder."
    assert "alpha" in reg and "gamma" not in reg and len(reg) == 2


def test_unknown_name_suggests_close_matches():
    reg = Registry("model")
    reg.add("resnet18", object)
    reg.add("resnet34", object)
    with pytest.raises(UserError, match=r"unknown model 'resnet19'; did you mean resnet18"):
        reg.entry("resnet19")
    with pytest.raises(UserError, match="known: resnet18, resnet34"):
        reg.build("zzz")


def test_duplicate_registration_fails():
    reg = Registry("model")
    reg.add("a", object)
    with pytest.raises(ValueError, match="twice"):
        reg.add("a", object)
