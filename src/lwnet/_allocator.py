"""Keep freed memory in the process: no page faults on every forward pass (glibc only).

A forward pass of LWNet on a 256×256 pair allocates a handful of 2–4 MiB feature maps and frees
them at the end. glibc's malloc serves blocks that large with fresh ``mmap`` calls or returns
them to the kernel by trimming the heap, so the next pass touches new pages and the kernel
zero-fills them: 2,000–5,000 minor page faults per pass on the 2-vCPU virtual machines this
project is developed on, where they cost a quarter to nearly half of the batch-1 latency
(docs/benchmarks.md, "Speed"). Serving such blocks from the heap and keeping freed memory
there brings that to zero, at the cost of a resident size that stays at its peak.
"""

from __future__ import annotations

import ctypes
import functools
import platform

# mallopt(3) parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit: blocks below it come from the heap
TRIM_THRESHOLD = 256 << 20  # free memory the heap keeps before giving any back


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks of up to 32 MiB for reuse, up to 256 MiB in all.

    Process-wide and for the rest of the process; the ``lwnet`` command calls it at start.
    Returns whether it took effect: ``False`` where the C library is not glibc (macOS,
    Windows, musl), which keeps its own behaviour. Calling it again does nothing more.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # mallopt returns 1 on success and 0 on an out-of-range value.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
