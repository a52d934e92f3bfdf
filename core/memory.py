"""Process memory tuning for the long-running servers (API workers, dashboard).

glibc hands big freed blocks (above a threshold that starts at 128 KB and adapts up to 32 MB) back to the
kernel, and the next request that needs them faults every page in again, each zeroed by the kernel: on
our 2-core virtual machines first-touch memory costs ~1.4 ms of system time a MB. A cost report allocates
a few hundred MB of short-lived arrays. Measured over reports 2-5 of one process (100,000 assets, a year):
0.06-0.30 s of system time a report without this, 0.00-0.09 s with it. Keeping freed memory in the
process (up to `TRIM_THRESHOLD`) is the trade a server wants: RSS stays at its high-water mark instead of
shrinking between requests. (A process's first report still pays for its memory once: docs/costs.md.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20  # blocks below this come from the heap, and return to it when freed
TRIM_THRESHOLD = 1 << 30  # free memory at the top of the heap kept before any is given back


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse; False (and no change) on another C library."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        log.warning("mallopt refused the memory thresholds; freed memory goes back to the kernel")
        return False
    return True
