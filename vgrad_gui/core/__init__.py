"""The Qt-free core: config, data, model, probe, trainer, history, diagnosis and run files.

This package never imports Qt. The modules that need torch (builder, probe, trainer, ...) are
not imported here, so ``import vgrad_gui.core`` and the numpy-only modules (spec, history,
diagnose, runfile, presets, datasets) stay fast for the GUI process, which never loads torch.
"""

from vgrad_gui.core.diagnose import Finding, diagnose
from vgrad_gui.core.history import RunHistory, Series
from vgrad_gui.core.presets import Preset, all_presets, get_preset
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.runfile import RunFileError, load_run, save_run
from vgrad_gui.core.spec import Config, ConfigError, load_config

__all__ = [
    "Config",
    "ConfigError",
    "Finding",
    "Preset",
    "RecordBlock",
    "RunFileError",
    "RunHistory",
    "Series",
    "all_presets",
    "diagnose",
    "get_preset",
    "load_config",
    "load_run",
    "save_run",
]
