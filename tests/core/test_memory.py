"""The worker keeps freed memory for reuse (core/memory.py): a wide net's first step finds its
gradients' memory already mapped. Measured in fresh processes, by the page faults of
allocating and touching gradient-sized tensors after ``prefault_like``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vgrad_gui.core import memory

SCRIPT = """
import json, resource, sys
import torch
from vgrad_gui.core import memory
kept = memory.keep_freed_memory() if sys.argv[1] == "keep" else False
params = [torch.empty(256, 1024) for _ in range(48)]  # 48 x 1 MB, like a wide net's weights
memory.prefault_like(params)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
grads = [torch.ones_like(p) for p in params]  # step 1's gradients, written as autograd does
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
del grads
memory.release_freed_memory()
print(json.dumps([kept, faults]))
"""


def faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         timeout=120, check=True)
    kept, n = json.loads(out.stdout.strip().splitlines()[-1])
    return bool(kept), int(n)


@pytest.mark.skipif(memory._glibc() is None, reason="glibc's malloc only")
def test_gradient_sized_memory_prefaulted_while_building_is_reused_at_step_one():
    kept, reused = faults("keep")
    plain_kept, fresh = faults("plain")
    assert kept and not plain_kept
    # 48 MB newly touched is ~12k pages of 4 kB; reused, next to none.
    assert fresh > 6000, fresh
    assert reused < fresh / 10, (reused, fresh)


def test_without_glibc_or_before_keep_nothing_is_done(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    monkeypatch.setattr(memory, "_kept", False)
    assert memory.keep_freed_memory() is False
    memory.prefault_like([object()])  # not even looked at
    memory.release_freed_memory()
