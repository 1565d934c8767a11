"""Typed errors of the core, and problems as data.

Messages are data until the edge. Every error and every problem found in an
input carries:

- a stable ``code`` (``"issues.unknown_category"``): what went wrong, for
  programs (the JSON API returns it) and tests;
- an English ``message`` template with ``%(name)s`` placeholders, marked with
  :func:`N_` so that Babel extracts it as a gettext message id;
- the raw ``params`` that fill the template;
- for a problem, its :class:`Place`: file, row or feature, and the row's key.

The core never composes a finished sentence. The web layer renders errors in
the request's language and the CLI in the environment's, by passing their
gettext function to :meth:`Problem.render` / :meth:`CivgridError.render`;
``str()`` renders English, for logs and tests.

>>> p = Problem("issues.unknown_category", N_("unknown category %(category)r"),
...             {"category": "99999"}, Place("today.csv", row=2, key="ref", value="XC-17"))
>>> p.render()
"today.csv: row 2 (ref XC-17): unknown category '99999'"
>>> str(InputError([p]))
"today.csv: row 2 (ref XC-17): unknown category '99999'"

The web layer maps the classes to HTTP status codes in one place.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field


def N_(message):
    """Mark an English message template for extraction (``pybabel extract -k N_``).

    Returns ``message`` unchanged: translation happens when the message is rendered.
    """
    return message


#: Longest quotation of a user's value in a message.
SHOWN_CHARS = 40


def shown(value, limit=SHOWN_CHARS):
    """A user's value as a message quotes it (with ``%(name)r``, which escapes it): cut to
    ``limit`` characters.

    >>> shown("X" * 50)
    'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX…'
    """
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _english(message):
    return message


def render_template(message, params, translate=_english):
    """Translate ``message`` and fill it with ``params`` (rendered first when they
    are messages themselves, such as a :class:`Text` or a :class:`Problem`).

    >>> render_template(N_("%(n)d rows"), {"n": 3})
    '3 rows'
    """
    text = translate(message) if message else message  # gettext("") is the header
    if not params:
        return text
    values = {k: v.render(translate) if hasattr(v, "render") else v for k, v in params.items()}
    return text % values


@dataclass(frozen=True)
class Text:
    """A translatable phrase used inside another message, e.g. a unit or a reason."""

    message: str
    params: Mapping = field(default_factory=dict)

    def render(self, translate=_english):
        return render_template(self.message, self.params, translate)

    def __str__(self):
        return self.render()


@dataclass(frozen=True)
class Place:
    """Where a problem is: a file and a row (as a spreadsheet numbers it: header =
    row 1) or a feature (from 1), and the value of the row's key column.

    >>> Place("grids.geojson", feature=3, key="code", value="150102001001001").render()
    'grids.geojson: feature 3 (code 150102001001001)'
    >>> Place("form").render()
    'form'
    """

    file: "str | Text | None" = None
    row: int | None = None
    feature: int | None = None
    key: str | None = None
    value: str | None = None

    def render(self, translate=_english):
        parts = []
        if self.row is not None:
            parts.append(render_template(N_("row %(row)s"), {"row": self.row}, translate))
        elif self.feature is not None:
            parts.append(render_template(N_("feature %(feature)s"),
                                         {"feature": self.feature}, translate))
        if self.value not in (None, ""):
            parts.append(f"({self.key} {self.value})")
        text = " ".join(parts)
        # A form's place is a phrase (``Text(N_("form: the issue"))``), not a file name.
        file = self.file.render(translate) if hasattr(self.file, "render") else self.file
        if file and parts and parts[0].startswith("("):  # a form's record, named by its key
            return f"{file} {text}"
        if file and text:
            return f"{file}: {text}"
        return file or text

    def as_dict(self):
        file = str(self.file) if self.file is not None else None
        return {k: v for k, v in (("file", file), ("row", self.row),
                                  ("feature", self.feature), ("key", self.key),
                                  ("ref", self.value)) if v is not None}


@dataclass(frozen=True)
class Problem:
    """One problem of an input: a stable code, an English template, its parameters
    and its place (``None`` when it concerns the whole input)."""

    code: str
    message: str
    params: Mapping = field(default_factory=dict)
    place: Place | None = None

    def render(self, translate=_english):
        text = render_template(self.message, self.params, translate)
        where = self.place.render(translate) if self.place else ""
        return f"{where}: {text}" if where else text

    def as_dict(self, translate=_english):
        """The problem for the JSON API: code, rendered message, raw params, place."""
        body = {"code": self.code, "message": self.render(translate),
                "params": {k: v.render(translate) if hasattr(v, "render") else v
                           for k, v in self.params.items()}}
        if self.place:
            body.update(self.place.as_dict())
        return body

    def __str__(self):
        return self.render()


def as_problem(value, code="input.invalid"):
    """A :class:`Problem` from a problem or from a finished English sentence.

    Finished sentences are what the core said before it spoke in codes; they stay
    English in every language, so no new code should pass one.
    """
    if isinstance(value, Problem):
        return value
    return Problem(code, str(value))


class CivgridError(Exception):
    """Base class of every error civgrid raises on purpose.

    ``CivgridError(N_("grid %(code)s does not exist"), {"code": c}, code="grids.not_found")``
    """

    code = "error"

    def __init__(self, message="", params=None, *, code=None):
        self.message = message
        self.params = dict(params or {})
        if code:
            self.code = code
        super().__init__(self.render())

    def render(self, translate=_english):
        return render_template(self.message, self.params, translate)

    def as_problem(self):
        return Problem(self.code, self.message, self.params)

    def __str__(self):
        return self.render()


class ConfigError(CivgridError):
    """A setting is missing or wrong, or the machine lacks something."""

    code = "config"


class DatabaseError(CivgridError):
    """The database cannot be reached or is not usable."""

    code = "database"


class SchemaError(DatabaseError):
    """The database schema is older or newer than this civgrid knows."""

    code = "database.schema"


class NotFound(CivgridError):
    """A grid, issue, version or file that was asked for does not exist."""

    code = "not_found"


class ConflictError(CivgridError):
    """Another change got there first (e.g. two simultaneous activations)."""

    code = "conflict"


class InputError(CivgridError):
    """Bad input: a file, row, feature or parameter that cannot be accepted.

    ``problems`` lists every :class:`Problem` found (each naming the file and the
    row or feature); the error's message summarises them. One problem may be
    given alone, and a finished sentence stands for a problem without a code.
    """

    code = "input"
    SHOWN = 20

    def __init__(self, problems, source=None, *, code=None):
        if isinstance(problems, (str, Problem)):
            problems = [problems]
        self.problems = [as_problem(p) for p in problems]
        self.source = source
        if code is None and len(self.problems) == 1:
            code = self.problems[0].code
        super().__init__(code=code)

    def render(self, translate=_english):
        shown = [p.render(translate) for p in self.problems[:self.SHOWN]]
        more = len(self.problems) - len(shown)
        if more > 0:
            shown.append(render_template(N_("… and %(n)d more problem(s)"), {"n": more},
                                         translate))
        return "\n".join(shown)

    def as_problem(self):
        return self.problems[0] if len(self.problems) == 1 else super().as_problem()


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
