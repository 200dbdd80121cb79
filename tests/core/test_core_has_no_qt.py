"""The architecture's first rule: vgrad_gui.core never imports Qt (and the GUI-side modules of
the core never import torch, which keeps the window's start fast)."""

import subprocess
import sys

CHECK = """
import sys
import vgrad_gui.core
after_core = set(sys.modules)
import vgrad_gui.core.trainer, vgrad_gui.core.worker, vgrad_gui.cli
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))
print('QT', qt)
print('TORCH_IN_CORE_IMPORT', 'torch' in after_core)
"""


def test_core_imports_no_qt_and_core_init_no_torch():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True).stdout
    assert "QT []" in out
    assert "TORCH_IN_CORE_IMPORT False" in out
