"""Freed large blocks go back to the system once a copy has asked glibc to map them on their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Blob-sized blocks freed between small allocations that stay alive, as a copy's upload threads do.
PATTERN = """
import sys
from syncjobs.engine.heap import large_allocations_mapped
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
if sys.argv[1] == "mapped":
    assert large_allocations_mapped() and large_allocations_mapped()
first = b"x" * (4 << 20)  # larger than the blocks: the threshold rises above them
del first
filler = [b"z" * 600 for _ in range(20_000)]  # fills the heap's holes, so each kept allocation lands after its block
blocks, kept = [], []
for _ in range(50):
    blocks.append(b"x" * (2 << 20))
    kept.append(b"y" * 600)
before = resident_mb()
del blocks
print(before - resident_mb())
"""


def freed_mb(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PATTERN, mode], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_freed_blocks_leave_resident_memory_only_when_mapped_on_their_own():
    assert freed_mb("default") < 20  # glibc's own threshold keeps ~100 MB of freed blocks resident
    assert freed_mb("mapped") >= 95  # all 50 blocks of 2 MiB are given back
