"""`dlcanon.cli.main` turns what the command line returns into the process's exit status."""

import pytest

from dlcanon import cli


@pytest.mark.parametrize("returned, status", [(130, 130), (2, 2)])
def test_a_status_click_returns_instead_of_raising_is_the_exit_status(monkeypatch, capsys, returned, status):
    """Click in non-standalone mode returns the status of an Exit (Ctrl-C: 130) rather than raising it."""
    monkeypatch.setattr(cli, "app", lambda standalone_mode: returned)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == status
    assert ("interrupted" in capsys.readouterr().err) == (status == 130)


def test_success_exits_normally(monkeypatch):
    monkeypatch.setattr(cli, "app", lambda standalone_mode: None)
    cli.main()  # no SystemExit
