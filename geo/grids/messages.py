"""How the grid modules speak: reports as lines of messages, and the coded words in them.

A report of this package (an import, a validation, an impact preview, an activation, a
balance suggestion, an edit) is data: fields, plus :meth:`Lines.lines`, a list of
``(depth, message)`` where each message is a :class:`geo.errors.Text` or
:class:`geo.errors.Problem`. The web layer renders each line with the page's gettext
(``tr()`` in templates), the command line with the environment's; ``str()`` is English,
indented by depth, for logs and tests.

>>> class Done(Lines):
...     def lines(self):
...         return [(0, Text(N_("%(n)d grids"), {"n": 3})), (1, Text(N_("all valid")))]
>>> print(Done())
3 grids
  all valid

Coded values inside messages (a version's status, a grid's level, a field's name) are
translated through the vocabularies below, as :class:`~geo.errors.Text`.
"""

from dataclasses import dataclass

from geo import vocabulary
from geo.errors import N_, Text

def _english(message):
    return message


class Lines:
    """A report rendered line by line; subclasses define :meth:`lines`."""

    def lines(self):
        """``[(depth, Text or Problem)]``: what the report says, in order."""
        raise NotImplementedError

    def render(self, translate=_english):
        """The report as text in the language of ``translate``, sub-lines indented."""
        return "\n".join("  " * depth + message.render(translate)
                         for depth, message in self.lines())

    def __str__(self):
        return self.render()


@dataclass(frozen=True)
class Joined:
    """Messages said one after another, with a separator in the reader's language.

    >>> Joined([Text(N_("added %(codes)s"), {"codes": "a"}), "b"]).render()
    'added a, b'
    """

    items: tuple
    separator: str = N_(", ")

    def render(self, translate=_english):
        # gettext("") is the catalogue's header, not an empty string.
        separator = translate(self.separator) if self.separator else ""
        return separator.join(
            item.render(translate) if hasattr(item, "render") else str(item)
            for item in self.items)

    def __str__(self):
        return self.render()


def codes_text(codes, limit=None):
    """Grid codes as one parameter: ``'a, b, c'`` (with ``' …'`` past ``limit``)."""
    codes = list(codes)
    shown = codes if limit is None else codes[:limit]
    return ", ".join(shown) + (" …" if len(codes) > len(shown) else "")


# The coded values' words live in the one vocabulary.
VERSION_STATUS, LEVELS = vocabulary.GRID_VERSION_STATUSES, vocabulary.GRID_LEVELS
#: Names of the one-line text fields of grids and versions.
FIELDS = {"label": N_("label"), "name": N_("name"), "leader": N_("leader"),
          "departments": N_("departments"), "population": N_("population")}
#: How a grid differs between two versions (geo/store/sql/version_match.sql).
CHANGES = {"identical": N_("identical"), "reshaped": N_("reshaped"),
           "attributes": N_("attributes"), "added": N_("added"), "removed": N_("removed")}
#: The point tables whose rows are assigned to grids.
TABLES = {"issues": N_("Issues"), "toilets": N_("Latrines and toilets")}


def term(vocabulary, value):
    """``value`` of a vocabulary above as a :class:`Text`; an unknown value as it is.

    >>> term(VERSION_STATUS, "draft").render(), term(VERSION_STATUS, "odd").render()
    ('draft', 'odd')
    """
    message = vocabulary.get(value)
    if message is None:
        return Text("%(value)s", {"value": value})
    return Text(message)
