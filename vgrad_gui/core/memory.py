"""The worker's memory: what a training step frees stays for the next step.

The first step of a big net touches memory nothing has touched before (its gradients and the
activations saved for the backward pass: ~1.2 GB at depth 200 x width 1024), and every new
page is a page fault: ~307k of them there, at ~9 us each on the virtual machines this is built
on, so step 1 took ~5 s against ~2.2 s for the steps after it. glibc's malloc hands blocks
above its threshold (128 kB at first, then adaptive) back to the system when they are freed,
and a later step faults them in again unless the adaptive thresholds happen to have grown.

So the worker fixes the thresholds (``keep_freed_memory``): blocks up to 32 MB come from the
heap and stay there when freed; and while a wide net is built, where the window already shows
a progress note, it touches its gradients' memory once (``prefault_like``), which step 1's
gradients then reuse. Measured at 200 x 1024: step 1 ~3.2 s with ~88k faults, the steps
after it unchanged. ``release_freed_memory`` gives the kept memory back when a run goes.

Only glibc (Linux) has these knobs; elsewhere the functions do nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterable
from typing import Any

_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_FROM = 32 << 20  # the largest glibc allows; larger blocks are mapped for each use
TRIM_FROM = (1 << 31) - 1  # free memory at the top of the heap kept up to this much

_kept = False


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # another C library (musl)
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_freed_memory() -> bool:
    """Freed blocks up to MMAP_FROM stay with the process for reuse. Returns whether this
    process now works so (False without glibc)."""
    global _kept
    libc = _glibc()
    if libc is not None:
        _kept = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_FROM)) and \
            bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_FROM))
    return _kept


def prefault_like(tensors: Iterable[Any]) -> None:
    """Touch, then free, memory the size of each tensor (a wide net's gradients, which
    autograd allocates afresh at every step): with ``keep_freed_memory`` in force, step 1
    finds it mapped. Nothing to gain otherwise, so nothing is done."""
    if not _kept:
        return
    import torch

    scratch = [torch.zeros_like(t) for t in tensors]
    del scratch


def release_freed_memory() -> None:
    """Give the memory kept for reuse back to the system (a run was removed or replaced: a
    big net's gigabytes must not stay with the worker)."""
    libc = _glibc() if _kept else None
    if libc is not None:
        libc.malloc_trim(0)
