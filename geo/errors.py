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


#: At most this many characters of a value read from a file are quoted in a message.
EXCERPT_CHARS = 40


def excerpt(value, limit=EXCERPT_CHARS, quote=True):
    """A value read from a file, safe to quote in a message: short, one line, escaped.

    ``quote`` gives ``repr``'s quotes (``'15010200100100'``); without it the
    value is shown bare. Newlines and control characters are escaped (``\\n``,
    ``\\x00``), printable text (Chinese too) is kept, and anything longer than
    ``limit`` characters is cut with ``…``: a message must never echo a file.
    """
    text = str(value)
    cut = len(text) > limit
    text = text[:limit]
    shown = repr(text) if quote else repr(text)[1:-1]
    if not quote:  # repr escaped its own quote character; a bare value needs no escape
        shown = shown.replace("\\'", "'").replace('\\"', '"')
    return shown + "…" if cut else shown
