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


#: Folders that hold installed or generated files, not the project's own.
_NOT_OURS = {".git", ".venv", "node_modules", "__pycache__", "instance", "test-artifacts",
             "bench-data", ".make", ".pytest_cache", "build", "dist"}


def project_files():
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO).parts
        if path.is_file() and not any(p in _NOT_OURS or p.endswith(".egg-info") for p in rel):
            yield path


def test_no_file_cites_the_external_design_notes():
    # The project documents itself (docs/domain.md); a file outside the repository is no
    # reference a reader can follow. Spelled in two halves so this file does not match.
    name = ("DESIGN" + ".md").encode()
    files = list(project_files())
    assert REPO / "docs" / "domain.md" in files and len(files) > 100
    assert [str(p.relative_to(REPO)) for p in files if name in p.read_bytes()] == []


def test_every_category_group_is_in_the_domain_reference():
    import csv

    domain = (REPO / "docs" / "domain.md").read_text(encoding="utf-8")
    with open(REPO / "data" / "categories.csv", encoding="utf-8-sig", newline="") as fh:
        groups = {(r["group_code"], r["group_zh"], r["group_en"]) for r in csv.DictReader(fh)}
    assert len(groups) >= 5
    assert sorted(g for g in groups if f"| {g[0]} | {g[1]} | {g[2]} |" not in domain) == []
