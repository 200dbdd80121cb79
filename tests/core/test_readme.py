"""The README documents the formats the code reads; keep the two in step."""

import re
from pathlib import Path

from vgrad_gui.core.presets import preset_names
from vgrad_gui.core.records import TABLES
from vgrad_gui.core.spec import FIELDS

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_config_key_is_documented():
    for field in FIELDS:
        assert f"| `{field.name}` |" in README, field.name
        for choice in field.choices:
            assert choice in README, choice


def test_every_preset_is_listed():
    for name in preset_names():
        assert f"`{name}`" in README, name


def test_every_run_file_channel_is_documented():
    for channels in TABLES.values():
        for name, _ in channels:
            assert f"`{name}`" in README, name


def test_the_test_command_is_marked_for_ci():
    block = re.search(r"<!-- test-command -->\s*```sh\n(.+?)\n```\s*<!-- /test-command -->",
                      README, re.S)
    assert block and "pytest" in block.group(1)
