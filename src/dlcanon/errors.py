"""The one exception type for a user's mistake: the CLI prints its message on one line and exits 2."""


class UserError(Exception):
    """A mistake in what the user asked for (unknown name, bad value, missing or corrupt file).

    The message says what was expected and what was received, on one line.
    """

    exit_code = 2
