"""Allocator tuning for large array work (glibc and Arrow's mimalloc; a no-op elsewhere).

glibc hands every allocation above 32 MiB to a fresh ``mmap`` and returns it on ``free``. Array
code over millions of rows allocates many such temporaries, and each one page-faults in anew: on
the 2-core VMs we measured, that doubled the time of an array operation (the benchmark spent as
much time in the kernel as in NumPy). Serving big blocks from the heap and keeping freed memory
for reuse removes those faults.

Arrow allocates through its own mimalloc, which by default hands freed memory back to the kernel
after 10 ms and backs large blocks with 2 MiB pages that are zeroed whole on first touch. Told
(through its ``MIMALLOC_*`` environment variables, read when pyarrow loads) to keep freed memory
and to use ordinary pages, the Parquet decoder reuses its buffers: on the benchmark's VM the
kernel time of reading and measuring 10 M rows fell by half or more.

The CLI calls :func:`tune_for_arrays` once at start, before pyarrow is imported; a short-lived
command keeps its peak memory until it exits, which is what it would use anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
# mimalloc options (a value the user set in the environment wins).
MIMALLOC_SETTINGS = {
    "MIMALLOC_PURGE_DELAY": "-1",  # never return freed memory to the kernel: reuse it
    "MIMALLOC_ALLOW_LARGE_OS_PAGES": "0",  # 4 KiB pages: only what is touched is zeroed
    "MIMALLOC_ARENA_EAGER_COMMIT": "0",  # commit arena memory when it is used, not ahead
}
_done = False


def tune_for_arrays(keep_bytes: int = 8 * 1024**3) -> bool:
    """Serve large blocks from the heap and keep up to ``keep_bytes`` of freed memory for reuse;
    have Arrow's allocator keep freed memory too (effective only before pyarrow is imported).

    Returns True when glibc accepted the settings.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    if "pyarrow" not in sys.modules:
        for name, value in MIMALLOC_SETTINGS.items():
            os.environ.setdefault(name, value)
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
