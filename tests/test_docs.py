"""The docs stay complete and connected: every setting, CLI command and option, and link.

A setting added to ``config.Settings`` or a command added to ``sessionhub.cli`` fails
here until docs/configuration.md or docs/cli.md says what it does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from sessionhub.cli import cli
from sessionhub.config import describe

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
SETTINGS_START = "<!-- settings:start -->"
SETTINGS_END = "<!-- settings:end -->"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _walk(command: typer.main.TyperGroup, path: str) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found.extend(_walk(sub, f"{path} {name}"))
    return found


COMMANDS = _walk(typer.main.get_command(cli), "sessionhub")  # type: ignore[arg-type]
PARAMS = [
    (path, name)
    for path, command in COMMANDS
    for param in command.params  # type: ignore[attr-defined]
    for name in (
        [*param.opts, *param.secondary_opts]
        if param.param_type_name == "option"
        else [str(param.name).upper()]
    )
]


def _headings(text: str) -> list[tuple[int, str, int]]:
    """(level, title, line number) of each heading outside code blocks."""
    found = []
    fenced = False
    for number, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2), number))
    return found


def _section(text: str, title: str) -> str | None:
    """The text under the heading ``title`` (backticks ignored) up to the next peer heading."""
    lines = text.splitlines()
    headings = _headings(text)
    for index, (level, heading, start) in enumerate(headings):
        if heading.replace("`", "") == title:
            end = next((line for lvl, _, line in headings[index + 1 :] if lvl <= level), len(lines))
            return "\n".join(lines[start:end])
    return None


def _slug(title: str) -> str:
    """GitHub's anchor for a heading."""
    kept = re.sub(r"[^\w\- ]", "", title.strip().lower().replace("`", ""))
    return kept.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for _, title, _ in _headings(page.read_text()):
        slug = _slug(title)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize(
    ("env", "default", "help_text"), describe(), ids=[d[0] for d in describe()]
)
def test_every_setting_is_in_the_configuration_page(env: str, default: str, help_text: str) -> None:
    """docs/configuration.md names every setting's environment variable with its help text."""
    page = (DOCS / "configuration.md").read_text()
    assert (True, True) == (env in page, help_text in page)


def test_settings_table_is_the_generated_one() -> None:
    """The settings table in docs/configuration.md is exactly what `sessionhub config --markdown` prints."""
    page = (DOCS / "configuration.md").read_text()
    documented = page.split(SETTINGS_START, 1)[1].split(SETTINGS_END, 1)[0].strip()
    generated = CliRunner().invoke(cli, ["config", "--markdown"]).stdout.strip()
    assert generated == documented


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_every_cli_command_has_a_section(path: str) -> None:
    """docs/cli.md has a heading for every command and subcommand."""
    assert _section((DOCS / "cli.md").read_text(), path) is not None, f"no '## `{path}`' heading"


@pytest.mark.parametrize(("path", "name"), PARAMS, ids=[f"{p}:{n}" for p, n in PARAMS])
def test_every_cli_option_is_in_its_command_section(path: str, name: str) -> None:
    """Each option and argument of a command is described under that command's heading."""
    section = _section((DOCS / "cli.md").read_text(), path) or ""
    assert name in section


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    """Every relative link (and its #anchor) in the README and docs/ resolves."""
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        missing_anchor = bool(anchor) and linked.suffix == ".md" and anchor not in _anchors(linked)
        if not linked.exists() or missing_anchor:
            broken.append(target)
    assert [] == broken


def test_every_docs_page_is_linked_from_the_readme() -> None:
    """No page in docs/ is an orphan: the README links to each one."""
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in LINK.findall(README.read_text())
    }
    assert [] == [page.name for page in PAGES[1:] if page.resolve() not in linked]


def test_the_readme_engine_example_runs(tmp_path: Path) -> None:
    """The in-process Engine example in the README runs as printed, on a fresh SQLite file."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    done = subprocess.run(
        [sys.executable, "-c", blocks[0]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (0, "") == (done.returncode, done.stderr)
    lines = done.stdout.splitlines()
    assert ["valid: True", "ended: logout"] == [lines[0].split(" until ")[0], lines[1]]
    assert (tmp_path / "data" / "sessionhub.db").exists()
