"""Memory available to a run, for refusing what cannot fit before allocating it.

Estimates of a mesh, a grid or a sweep are compared with `available_memory()` and
refused with the estimate in the message (`format_bytes`), instead of failing after
minutes or being killed by the kernel.
"""

from __future__ import annotations

import os

#: share of the available memory one allocation plan may claim
MEMORY_SHARE = 0.8


def available_memory() -> int:
    """Bytes of memory available now (Linux MemAvailable, else the physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**63


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def fits(need_bytes: float) -> tuple[bool, int]:
    """(whether ``need_bytes`` fits in MEMORY_SHARE of the available memory, the available bytes)."""
    have = available_memory()
    return need_bytes <= MEMORY_SHARE * have, have
