"""The README cannot drift: every command and every setting must appear in it."""

import re

import click

from tests.conftest import REPO
from webmap.cli import main

README = (REPO / "README.md").read_text(encoding="utf-8")


def command_paths(group, prefix="civgrid"):
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            yield from command_paths(cmd, path)
        else:
            yield path


def test_every_command_is_documented():
    paths = list(command_paths(main))
    assert len(paths) >= 10
    missing = [p for p in paths if p not in README]
    assert missing == []


def test_every_setting_is_documented():
    names, app_config_keys = set(), set()
    for path in [*(REPO / "geo").rglob("*.py"), *(REPO / "webmap").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"CIVGRID_[A-Z0-9_]+", text))
        app_config_keys |= set(re.findall(r"config\[\"(CIVGRID_[A-Z0-9_]+)\"\]", text))
    names -= app_config_keys  # Flask config keys, not environment variables
    assert {"CIVGRID_DATABASE_URL", "CIVGRID_DATA_DIR", "CIVGRID_TILES"} <= names
    assert sorted(n for n in names if f"`{n}`" not in README) == []


def test_the_two_commands_are_documented():
    assert "make demo" in README and "make test" in README
    assert (REPO / ".ci" / "run").read_text().strip().endswith("exec make test")
