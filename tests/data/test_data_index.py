"""The index: slide keys, sizes, broken files skipped (named, warned, counted), the summary."""

from __future__ import annotations

import numpy as np
import pytest

from smearnet.data import SkippedFileWarning, format_summary, index_source, slide_key, summarize


@pytest.mark.parametrize("stem,key", [
    ("C100P61ThinF", "C100"), ("C39P4thinF", "C39"), ("C68P29N", "C68"),
    ("C182P143NThinF", "C182"), ("C201ThinF", "C201"), ("C1_thinF", "C1"), ("C12NThinF", "C12"),
    ("C47P8thin", "C47"), ("C47P8thinOriginalOlympusCX21", "C47"), ("C99P60ThinF", "C99"),
    ("C167P128ReThinF", "C167"),
])
def test_slide_key_forms_from_data_md(stem, key):
    assert slide_key(f"{stem}_IMG_20150918_144104_cell_162.png") == key
    assert slide_key(f"/data/cell_images/Parasitized/{stem}_IMG_1_cell_2.png") == key


def test_slide_key_needs_the_leading_c_digits():
    assert slide_key("IMG_C100_cell_1.png") == ""
    assert slide_key("Parasitized/P61ThinF_cell.png") == ""
    assert slide_key("C1000P1_cell.png") == "C1000"  # not C100


def test_index_table(small_set, synth):
    root, counts = small_set
    idx = index_source(root)
    n = counts["Parasitized"] + counts["Uninfected"]
    assert len(idx.paths) == len(idx.labels) == len(idx.slides) == len(idx.widths) == n
    assert idx.widths.dtype == np.int32 and idx.heights.dtype == np.int32
    i = int(np.flatnonzero(np.char.find(idx.paths.astype(str), "C1_thinF") >= 0)[0])
    from PIL import Image
    with Image.open(idx.paths[i]) as im:
        assert (idx.widths[i], idx.heights[i]) == im.size
    assert set(idx.slides.tolist()) == set(synth.STEMS.values())
    assert len(set(idx.slides.tolist())) == 9  # C47P8thin and C47P8thin...CX21: one patient


def test_broken_files_skipped_named_warned_and_counted(small_set, synth, rng):
    root, counts = small_set
    good = synth.png_bytes(synth.cell(rng, 40, 40))
    broken = {
        "C5P1ThinF_zero.png": b"",
        "C5P1ThinF_truncated.png": good[: len(good) // 2],
        "C5P1ThinF_noise.png": bytes(rng.integers(0, 256, 500, dtype=np.uint8)),
        "C5P1ThinF_badheader.png": good[:8] + b"\x00" * 40,
    }
    for name, data in broken.items():
        (root / "Parasitized" / name).write_bytes(data)
    with pytest.warns(SkippedFileWarning) as rec:
        idx = index_source(root)
    assert len(idx) == counts["Parasitized"] + counts["Uninfected"]
    skipped = {p.rsplit("/", 1)[-1]: why for p, why in idx.skipped}
    assert set(skipped) == set(broken)
    assert "empty" in skipped["C5P1ThinF_zero.png"]
    assert "truncated" in skipped["C5P1ThinF_truncated.png"]
    warned = " ".join(str(r.message) for r in rec)
    assert all(name in warned for name in broken)
    s = summarize(idx)
    assert len(s["skipped"]) == 4
    text = format_summary(s)
    assert "skipped (unreadable) image files: 4" in text
    assert all(name in text for name in broken)


def test_summary_counts(small_set):
    root, counts = small_set
    (root / "Parasitized" / "Thumbs.db").write_bytes(b"x")
    s = summarize(index_source(root))
    assert s["classes"] == {"Parasitized": counts["Parasitized"], "Uninfected": counts["Uninfected"]}
    assert s["slides"] == 9
    assert s["slides_with_parasitized"] == 5
    assert s["slides_with_both_classes"] == 4  # C100, C39, C68, C99
    assert s["slides_uninfected_only"] == 4
    assert s["parasitized_per_infected_slide"]["max"] == 6  # C47 under two names
    assert 30 <= s["width"]["p0"] <= s["width"]["p50"] <= s["width"]["p100"] < 50
    assert s["ignored"][0].endswith("Thumbs.db")
    text = format_summary(s)
    assert "slides (patients" in text and "image size" in text and "non-image files ignored: 1" in text


def test_summary_lists_each_ignored_name_once_with_its_count(small_set):
    root, _ = small_set
    for cls in ("Parasitized", "Uninfected"):
        (root / cls / "Thumbs.db").write_bytes(b"x")
    (root / "Uninfected" / "notes.txt").write_text("x")
    text = format_summary(summarize(index_source(root)))
    assert "non-image files ignored: 3 (Thumbs.db x2, notes.txt)" in text
