"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

import click

from whence.api.settings import Settings
from whence.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`WHENCE_{name.upper()}`" in README, f"WHENCE_{name.upper()} is not in the README"


def _commands(group: click.Group, prefix: str) -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix} {name}"
        out.append(full)
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full))
    return out


def test_every_command_is_documented() -> None:
    headings = [line for line in README.splitlines() if line.startswith("### `whence ")]
    for command in _commands(main, "whence"):
        parent, leaf = command.rsplit(" ", 1)
        # Its own heading, or its parent's heading listing it: "### `whence keys create ... | list ...`".
        documented = any(
            h.startswith(f"### `{command}")
            or (h.startswith(f"### `{parent} ") and leaf in h.replace("|", " ").replace("`", " ").split())
            for h in headings
        )
        assert documented, f"{command} has no section in the README"
