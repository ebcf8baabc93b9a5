"""The uint8 cache: correct pixels, reuse, invalidation, crash safety, parallel = serial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from smearnet.data import (SkippedFileWarning, cache_root, decode_resized, index_source,
                           load_dataset)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A private $SMEARNET_HOME per test (caches of other tests never interfere)."""
    h = tmp_path / "home"
    monkeypatch.setenv("SMEARNET_HOME", str(h))
    return h


def _final_caches(home: Path) -> list[Path]:
    root = home / "cache"
    return sorted(d for d in root.iterdir() if not d.name.startswith(".")) if root.is_dir() else []


def test_build_then_reuse(small_set, home):
    root, counts = small_set
    ds = load_dataset(root, 24, progress=False)
    n = counts["Parasitized"] + counts["Uninfected"]
    assert ds.built and len(ds) == n
    assert ds.images.shape == (n, 24, 24, 3) and ds.images.dtype == np.uint8
    assert isinstance(ds.images, np.memmap) and not ds.images.flags.writeable
    assert ds.cache_dir.parent == home / "cache"
    for i in (0, n // 2, n - 1):  # rows match their own file, decoded and resized alone
        assert np.array_equal(ds.images[i], decode_resized(ds.paths[i], 24))
    assert ds.labels.tolist() == [1 if "/Parasitized/" in p else 0 for p in ds.paths]
    idx = index_source(root)  # sizes learnt while decoding = sizes read from the headers
    assert np.array_equal(ds.index.widths, idx.widths)
    assert np.array_equal(ds.index.heights, idx.heights) and ds.index.heights.min() >= 30
    again = load_dataset(root, 24, progress=False)
    assert not again.built and again.cache_dir == ds.cache_dir
    assert np.array_equal(np.asarray(again.images), np.asarray(ds.images))
    assert again.slides.tolist() == ds.slides.tolist()
    assert np.array_equal(again.index.widths, ds.index.widths)
    assert len(_final_caches(home)) == 1


def test_size_and_interpolation_are_part_of_the_key(small_set, home):
    root, _ = small_set
    a = load_dataset(root, 16, progress=False)
    b = load_dataset(root, 20, progress=False)
    c = load_dataset(root, 16, progress=False, interpolation="nearest")
    assert len({a.cache_dir, b.cache_dir, c.cache_dir}) == 3
    assert b.images.shape[1:] == (20, 20, 3)
    with pytest.raises(ValueError, match="interpolation"):
        load_dataset(root, 16, progress=False, interpolation="cubic-ish")


def test_changed_source_is_never_served_stale(small_set, home, synth, rng):
    root, _ = small_set
    first = load_dataset(root, 16, progress=False)
    victim = Path(first.paths[0])
    synth.write_png(victim, np.full((40, 40, 3), 255, np.uint8))  # same name, new pixels
    os.utime(victim, ns=(time.time_ns(), time.time_ns() + 10**9))
    second = load_dataset(root, 16, progress=False)
    assert second.built and second.cache_dir != first.cache_dir
    assert np.all(np.asarray(second.images[0]) == 255)
    synth.write_png(root / "Uninfected" / "C7ThinF_new_cell_1.png", synth.cell(rng))
    third = load_dataset(root, 16, progress=False)
    assert third.built and len(third) == len(first) + 1
    assert len(_final_caches(home)) == 1  # superseded caches of the same folder are removed


def test_parallel_workers_match_in_process(small_set, home):
    root, _ = small_set
    serial = load_dataset(root, 16, progress=False, workers=1)
    import shutil
    shutil.rmtree(serial.cache_dir)
    parallel = load_dataset(root, 16, progress=False, workers=2)
    assert parallel.built
    assert np.array_equal(np.asarray(parallel.images), np.asarray(serial.images))
    assert parallel.paths.tolist() == serial.paths.tolist()


def test_zip_source_cache(small_set, home, synth, tmp_path):
    root, _ = small_set
    zp = synth.zip_tree(root, tmp_path / "cell_images.zip", prefix="cell_images/")
    from_zip = load_dataset(zp, 16, progress=False, workers=2)
    from_dir = load_dataset(root, 16, progress=False)
    assert np.array_equal(np.asarray(from_zip.images), np.asarray(from_dir.images))
    assert not load_dataset(zp, 16, progress=False).built


def test_images_corrupt_inside_are_dropped_at_decode_time(small_set, home, synth, rng):
    """Valid header and IEND but damaged pixel data: only decoding can tell."""
    root, counts = small_set
    data = bytearray(synth.png_bytes(synth.cell(rng, 40, 40)))
    idat = data.index(b"IDAT") + 8
    data[idat:idat + 30] = b"\xff" * 30
    bad = root / "Parasitized" / "C8P2ThinF_corrupt_cell_1.png"
    bad.write_bytes(bytes(data))
    with pytest.warns(SkippedFileWarning, match="C8P2ThinF_corrupt"):
        ds = load_dataset(root, 16, progress=False, workers=2)
    assert len(ds) == counts["Parasitized"] + counts["Uninfected"]
    assert [p for p, _ in ds.skipped] == [str(bad)]
    assert str(bad) not in ds.paths.tolist()
    for i in (0, len(ds) - 1):  # rows still line up with their files after compaction
        assert np.array_equal(ds.images[i], decode_resized(ds.paths[i], 16))
    again = load_dataset(root, 16, progress=False)
    assert not again.built and [p for p, _ in again.skipped] == [str(bad)]


_SLOW_BUILD = textwrap.dedent("""
    import sys, time
    import smearnet.data.parallel as par
    real = par.decode_pil
    def slow(*a, **k):
        time.sleep(0.05)
        return real(*a, **k)
    par.decode_pil = slow
    from smearnet.data import load_dataset
    load_dataset(sys.argv[1], 16, progress=False, workers=1)
""")


def test_killed_build_leaves_nothing_that_looks_complete(small_set, home):
    root, _ = small_set
    env = dict(os.environ, SMEARNET_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, str(root)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not list((home / "cache").glob(".*.tmp-*/raw.npy")):
            assert proc.poll() is None and time.monotonic() < deadline, "build never started"
            time.sleep(0.05)
        time.sleep(0.3)  # mid-way through writing rows
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _final_caches(home) == []  # only the hidden temporary folder exists
    leftovers = list((home / "cache").glob(".*.tmp-*"))
    assert leftovers
    ds = load_dataset(root, 16, progress=False)
    assert ds.built and len(ds) > 0
    assert not any(p.exists() for p in leftovers)  # the dead run's folder is cleaned up
    assert cache_root() == home / "cache"


def test_user_errors(tmp_path, home):
    from smearnet.cli import UsageError

    with pytest.raises(UsageError, match="no such file"):
        load_dataset(tmp_path / "nope", 16, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="class folder"):
        load_dataset(tmp_path / "empty", 16, progress=False)


def test_workers_from_a_script_on_stdin(small_set, home):
    """`python -` has no main file for spawned workers to import: fork is used instead."""
    root, counts = small_set
    code = ("from smearnet.data import load_dataset\n"
            f"ds = load_dataset({str(root)!r}, 16, progress=False, workers=2)\n"
            "print(len(ds), ds.built)\n")
    out = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True,
                         env=dict(os.environ, SMEARNET_HOME=str(home)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(sum(counts.values())), "True"]
    assert "workers failed" not in out.stderr


def test_workers_that_cannot_start_fall_back_to_this_process(small_set, home, tmp_path):
    """A script without an ``if __name__ == "__main__"`` guard: workers die re-importing it."""
    root, counts = small_set
    script = tmp_path / "unguarded.py"
    script.write_text("from smearnet.data import load_dataset\n"
                      f"ds = load_dataset({str(root)!r}, 16, progress=False, workers=2)\n"
                      "print(len(ds), ds.built)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=dict(os.environ, SMEARNET_HOME=str(home)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == [str(sum(counts.values())), "True"]
    assert "decoding the rest in this process" in out.stderr


def test_unwritable_or_full_cache_folder_is_a_one_line_error(small_set, tmp_path, monkeypatch):
    from collections import namedtuple

    from smearnet.cli import UsageError

    root, _ = small_set
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("SMEARNET_HOME", str(tmp_path / "a_file" / "home"))
    with pytest.raises(UsageError, match="cannot create the cache folder"):
        load_dataset(root, 16, progress=False)
    monkeypatch.setenv("SMEARNET_HOME", str(tmp_path / "home"))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(UsageError, match="MiB free") as e:
        load_dataset(root, 16, progress=False)
    assert "\n" not in str(e.value)
    assert not list((tmp_path / "home" / "cache").iterdir())


def test_damaged_cache_is_rebuilt(small_set, home):
    root, _ = small_set
    ds = load_dataset(root, 16, progress=False)
    (ds.cache_dir / "index.json").write_text("{not json")
    again = load_dataset(root, 16, progress=False)
    assert again.built and again.cache_dir == ds.cache_dir
    with open(again.cache_dir / "images.npy", "r+b") as f:
        f.truncate(1000)  # a cut file: its shape no longer matches the index
    third = load_dataset(root, 16, progress=False)
    assert third.built and np.array_equal(np.asarray(third.images), np.asarray(ds.images))
