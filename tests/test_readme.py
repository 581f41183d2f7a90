"""The README stays true to the CLI: its command reference names every command, and only real ones."""
from __future__ import annotations

import re

import click

from oscbench.cli import cli
from conftest import REPO


def _command_paths(group: click.Group, prefix: str = "oscbench") -> set[str]:
    paths = set()
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            paths |= _command_paths(cmd, path)
        else:
            paths.add(path)
    return paths


def _cli_section() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index("<!-- section:cli -->"):text.index("<!-- /section:cli -->")]


def test_readme_opens_with_the_two_make_commands():
    text = (REPO / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    cmds = [ln.split("#")[0].strip() for ln in first_block.splitlines() if ln.strip()]
    assert cmds == ["make quickstart", "make test"]


def test_every_cli_command_is_documented():
    section = _cli_section()
    missing = sorted(p for p in _command_paths(cli) if p not in section)
    assert not missing, f"README command reference lacks: {missing}"


def test_documented_commands_exist():
    known = _command_paths(cli)
    groups = {" ".join(p.split()[:k]) for p in known for k in range(1, len(p.split()))}
    section = _cli_section()
    for m in re.finditer(r"`(oscbench(?: [a-z][a-z-]*)+)", section):
        words = m.group(1).split()
        # longest prefix that is a command
        ok = any(" ".join(words[:k]) in known for k in range(2, len(words) + 1))
        assert ok or " ".join(words) in groups, f"README documents unknown command {m.group(1)!r}"
