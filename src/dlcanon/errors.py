"""The one exception type for a user's mistake: the CLI prints its message on one line and exits 2."""


class UserError(Exception):
    """A mistake in what the user asked for (unknown name, bad value, missing or corrupt file).

    The message says what was expected and what was received, on one line.
    """

    exit_code = 2


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the run stops and the last good checkpoint is kept."""


class Interrupted(RuntimeError):
    """Ctrl-C during training: a checkpoint was saved and `--resume` continues the run."""
