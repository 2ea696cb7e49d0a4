"""lwnet.keep_freed_memory: freed memory stays in the process, so passes stop page-faulting."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from lwnet._allocator import keep_freed_memory

from _killable import env

# One fresh process per setting: glibc raises its own thresholds for good once a large block
# is freed, so the two settings cannot be compared in one process.
FAULTS_PER_PASS = """
import resource, sys, torch
from lwnet import keep_freed_memory
from lwnet.model import LWNet
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
model, (a, b) = LWNet().eval(), torch.rand(2, 1, 1, 256, 256)
with torch.inference_mode():
    for _ in range(3):
        model(a, b)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        model(a, b)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 5)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc's mallopt")
def test_kept_memory_removes_the_page_faults_of_each_pass() -> None:
    def faults(mode: str) -> float:
        run = subprocess.run([sys.executable, "-c", FAULTS_PER_PASS, mode], env=env(),
                             check=True, capture_output=True, text=True)
        return float(run.stdout)

    default, kept = faults("default"), faults("keep")
    # glibc's default gives thousands per 256×256 pass; kept blocks are reused, not faulted in.
    assert kept <= 0.1 * default + 10, (default, kept)


def test_no_op_without_glibc(monkeypatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert keep_freed_memory.__wrapped__() is False
