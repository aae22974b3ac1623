"""A full data disk is not a full memory: persisting onto a full disk
raises vineyard.DiskFull (EDQUOT), a full memory NotEnoughMemory (ENOSPC),
and the object stays in memory either way."""
import os
import subprocess

import numpy as np
import pytest

import vineyard


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs (root only); unmounted after the daemons stopped."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    path = tmp_path / "tiny"
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                       str(path)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs")
    yield path
    subprocess.run(["umount", "-l", str(path)])


def test_full_disk_is_disk_full_not_memory(tiny_disk, make_daemon):
    d = make_daemon("--size", "64M", "--data-dir", str(tiny_disk / "data"))
    # 4 MB that lz4 cannot shrink: more than the disk holds
    big = np.random.default_rng(9).random(500_000)
    with vineyard.connect(d.socket) as c:
        with pytest.raises(vineyard.DiskFull) as e:
            c.put(big, persist=True)
        assert not isinstance(e.value, vineyard.NotEnoughMemory)
        assert "No space left on device" in str(e.value)
        oid = c.put(big)
        with pytest.raises(vineyard.DiskFull):
            c.persist(oid)
        assert (c.get(oid) == big).all()  # still served from memory
        # and memory running out is still NotEnoughMemory
        with pytest.raises(vineyard.NotEnoughMemory):
            c.put(np.zeros(80 << 17))  # 80 MiB
