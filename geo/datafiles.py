"""Where the shipped data lives: the category catalogue and the demo district.

The repository keeps them in ``data/`` (``data/categories.csv``, ``data/demo/``). Run from
a checkout, or installed in editable mode, civgrid reads that folder; installed from a
wheel it reads the copy the build puts in the package (``geo/_data``, see ``setup.py``).

>>> (DATA_DIR / "categories.csv").is_file(), (DATA_DIR / "demo" / "grids.geojson").is_file()
(True, True)
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def data_dir():
    """The checkout's ``data/`` when ``geo`` is imported from a checkout, else the shipped copy.

    A checkout is recognised by its ``setup.cfg`` beside ``data/``, so a stray ``data``
    folder next to an installed package is never taken for it.
    """
    checkout = _CHECKOUT / "data"
    if (_CHECKOUT / "setup.cfg").is_file() and (checkout / "categories.csv").is_file():
        return checkout
    return _PACKAGE / "_data"


DATA_DIR = data_dir()
