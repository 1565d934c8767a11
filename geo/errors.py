"""Typed errors of the core.

Every error carries a message meant for a person. The web layer maps the
classes to HTTP status codes in one place; the CLI prints the message.
"""


class CivgridError(Exception):
    """Base class of every error civgrid raises on purpose."""


class ConfigError(CivgridError):
    """A setting is missing or wrong, or the machine lacks something."""


class DatabaseError(CivgridError):
    """The database cannot be reached or is not usable."""


class SchemaError(DatabaseError):
    """The database schema is older or newer than this civgrid knows."""


class NotFound(CivgridError):
    """A grid, issue, version or file that was asked for does not exist."""


class ConflictError(CivgridError):
    """Another change got there first (e.g. two simultaneous activations)."""


class InputError(CivgridError):
    """Bad input: a file, row, feature or parameter that cannot be accepted.

    ``problems`` lists every problem found (a message each, naming the file
    and the row or feature); the exception message summarises them.
    """

    def __init__(self, problems, source=None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        text = "\n".join(shown)
        if more > 0:
            text += f"\n… and {more} more problem(s)"
        super().__init__(text)
