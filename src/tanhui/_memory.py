"""Allocator tuning for large array work (glibc only; a no-op elsewhere).

glibc hands every allocation above 32 MiB to a fresh ``mmap`` and returns it on ``free``. Array
code over millions of rows allocates many such temporaries, and each one page-faults in anew: on
the 2-core VMs we measured, that doubled the time of an array operation (the benchmark spent as
much time in the kernel as in NumPy). Serving big blocks from the heap and keeping freed memory
for reuse removes those faults; Arrow is pointed at the same allocator. The CLI calls
:func:`tune_for_arrays` once at start; a
short-lived command keeps its peak memory until it exits, which is what it would use anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_done = False


def tune_for_arrays(keep_bytes: int = 8 * 1024**3) -> bool:
    """Serve large blocks from the heap and keep up to ``keep_bytes`` of freed memory for reuse.

    Returns True when the allocator accepted the settings.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_MAX, 0)) and bool(
        mallopt(_M_TRIM_THRESHOLD, min(keep_bytes, 2**31 - 1))
    )
    _done = ok
    return ok
