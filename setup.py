"""Build hook: ship the repository's ``data/`` folder inside the ``geo`` package.

``data/`` (the category catalogue and the demo district) stays where the project layout
wants it, at the top of the repository. A wheel has no such place, so ``build_py`` copies
it to ``geo/_data/`` in the built package; :mod:`geo.datafiles` finds the checkout's
folder first and the shipped copy otherwise. A copy inside the package is found through
the package's own path, so it works for every kind of install (a virtual environment,
``--user``, ``--target``); a ``data_files`` copy under ``sys.prefix/share`` would not.
Everything else is declared in setup.cfg.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = Path(__file__).resolve().parent / "data"


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's data/ itself
        target = Path(self.build_lib) / "geo" / "_data"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(DATA, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildPyWithData})
