"""``return_large_blocks`` fixes glibc's mmap threshold (and says where it cannot)."""

from __future__ import annotations

import platform

from tracer.memory import return_large_blocks


def test_the_threshold_is_set_where_the_c_library_is_glibc():
    assert return_large_blocks() is (platform.libc_ver()[0] == "glibc")
