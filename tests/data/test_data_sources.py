"""Ingest: folders, zips read in place, doubled trees, letter case, files that are not images."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from smearnet.cli import UsageError
from smearnet.data import SourceError, index_source, list_source


def test_folder_labels_and_nonimages_ignored(small_set):
    root, counts = small_set
    for cls in ("Parasitized", "Uninfected"):
        (root / cls / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
        (root / cls / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "Uninfected" / "notes.txt").write_text("seen under the microscope")
    (root / "README.md").write_text("outside the class folders")
    idx = index_source(root)
    assert len(idx) == counts["Parasitized"] + counts["Uninfected"]
    assert idx.class_counts == {"Parasitized": counts["Parasitized"],
                                "Uninfected": counts["Uninfected"]}
    para = np.array(["/Parasitized/" in p for p in idx.paths])
    assert np.all(idx.labels[para] == 1) and np.all(idx.labels[~para] == 0)
    assert idx.labels.dtype == np.uint8
    assert idx.skipped == []
    ignored = sorted(p.rsplit("/", 1)[-1] for p in idx.ignored)
    assert ignored == [".DS_Store", ".DS_Store", "Thumbs.db", "Thumbs.db", "notes.txt"]


@pytest.mark.parametrize("as_zip", [False, True])
def test_class_folders_any_letter_case(tmp_path, synth, as_zip):
    counts = synth.make_tree(tmp_path / "d", class_names=("PARASITIZED", "uninfected"), per_slide=1)
    src = synth.zip_tree(tmp_path / "d", tmp_path / "d.zip", prefix="Cell_Images/") if as_zip \
        else tmp_path / "d"
    idx = index_source(src)
    assert idx.class_counts == {"Parasitized": counts["PARASITIZED"],
                                "Uninfected": counts["uninfected"]}


def test_zip_read_in_place_matches_folder(small_set, tmp_path, synth):
    root, _ = small_set
    zp = synth.zip_tree(root, tmp_path / "cell_images.zip", prefix="cell_images/",
                        extra={"cell_images/Parasitized/Thumbs.db": b"thumbs",
                               "__MACOSX/cell_images/Parasitized/._x.png": b"apple double"})
    zidx, fidx = index_source(zp), index_source(root)
    assert zidx.source.kind == "zip"
    assert zidx.members == ["cell_images/" + m for m in fidx.members]
    assert np.array_equal(zidx.labels, fidx.labels)
    assert np.array_equal(zidx.widths, fidx.widths) and np.array_equal(zidx.heights, fidx.heights)
    assert [p.rsplit("/", 1)[-1] for p in zidx.ignored] == ["Thumbs.db"]
    assert str(zidx.paths[0]).startswith(str(zp) + "/cell_images/")
    assert not list(tmp_path.glob("cell_images/"))  # nothing extracted


@pytest.mark.parametrize("as_zip", [False, True])
def test_doubled_layout_is_deduplicated(small_set, tmp_path, synth, as_zip):
    root, counts = small_set
    outer = tmp_path / "mirror" / "cell_images"
    shutil.copytree(root, outer)
    shutil.copytree(root, outer / "cell_images")  # the mirrors' cell_images/cell_images/...
    src = synth.zip_tree(tmp_path / "mirror", tmp_path / "m.zip") if as_zip else tmp_path / "mirror"
    idx = index_source(src)
    n = counts["Parasitized"] + counts["Uninfected"]
    assert len(idx) == n
    assert len(idx.duplicates) == n
    assert all(m.count("/") == 2 for m in idx.members)  # the copy nearest the top is kept
    assert len(set("/".join(p.rsplit("/", 2)[-2:]) for p in idx.paths)) == n


def test_extracted_folder_and_class_folder_parent_are_both_sources(small_set, tmp_path):
    root, _ = small_set
    shutil.copytree(root, tmp_path / "x" / "cell_images")
    assert len(index_source(tmp_path / "x")) == len(index_source(tmp_path / "x" / "cell_images"))


def test_user_errors_are_one_line_usage_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder") as e:
        list_source(tmp_path / "missing")
    assert isinstance(e.value, UsageError) and "\n" not in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no Parasitized/ or Uninfected/"):
        list_source(tmp_path / "empty")
    (tmp_path / "noclass" / "cells").mkdir(parents=True)
    (tmp_path / "noclass" / "cells" / "a.png").write_bytes(b"x")
    with pytest.raises(UsageError, match="class folder"):
        list_source(tmp_path / "noclass")
    (tmp_path / "hollow" / "Parasitized").mkdir(parents=True)
    (tmp_path / "hollow" / "Parasitized" / "Thumbs.db").write_bytes(b"x")
    with pytest.raises(UsageError, match="no image files"):
        list_source(tmp_path / "hollow")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(UsageError, match="not a folder or a zip"):
        list_source(tmp_path / "file.txt")


def test_fingerprint_tracks_names_sizes_and_mtimes(small_set):
    import os

    root, _ = small_set
    fp = list_source(root).fingerprint()
    assert list_source(root).fingerprint() == fp
    f = next((root / "Parasitized").iterdir())
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fp2 = list_source(root).fingerprint()
    assert fp2 != fp
    f.rename(f.with_name("C5P1ThinF_renamed.png"))
    assert list_source(root).fingerprint() not in (fp, fp2)


def test_truncated_zip_is_called_corrupt_or_truncated(small_set, tmp_path):
    root, _ = small_set
    whole = shutil.make_archive(str(tmp_path / "cells"), "zip", root.parent, root.name)
    data = open(whole, "rb").read()
    part = tmp_path / "cell_images.zip"
    part.write_bytes(data[: len(data) // 2])  # a partial download: starts with PK, no directory
    with pytest.raises(SourceError, match="corrupt or truncated"):
        list_source(part)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(b"\x00\x01 random bytes" * 10)
    with pytest.raises(SourceError, match="not a folder or a zip archive"):
        list_source(noise)
