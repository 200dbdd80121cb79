"""The lessons: named configs, each with a line to introduce it and a paragraph saying what to
watch. They live as JSON in resources/presets so they can be read and edited without code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from vgrad_gui.core.spec import Config, ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    summary: str
    watch: str
    config: Config


@lru_cache(maxsize=1)
def all_presets() -> tuple[Preset, ...]:
    folder = resources.files("vgrad_gui.resources").joinpath("presets")
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".json"):
            continue
        name = entry.name[: -len(".json")]
        data = json.loads(entry.read_text(encoding="utf-8"))
        config = Config.from_dict(data["config"], source=f"preset {name}")
        found.append((data.get("order", 99), Preset(name, data["title"], data["summary"],
                                                    data["watch"], config)))
    return tuple(p for _, p in sorted(found, key=lambda t: (t[0], t[1].name)))


def preset_names() -> list[str]:
    return [p.name for p in all_presets()]


def get_preset(name: str) -> Preset:
    for preset in all_presets():
        if preset.name == name:
            return preset
    raise ConfigError("preset", name, "one of " + ", ".join(preset_names()))
