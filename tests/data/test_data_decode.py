"""Decoding: every mode to uint8 RGB, broken files as ImageError naming them, bomb guard on."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from smearnet.data import (ImageError, SkippedFileWarning, decode_image, decode_resized,
                           load_images)


def _save(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def test_rgb_roundtrip_from_path_and_bytes(tmp_path, synth, rng):
    arr = synth.cell(rng, 33, 41)
    p = synth.write_png(tmp_path / "a.png", arr)
    for src in (p, str(p), p.read_bytes()):
        out = decode_image(src)
        assert out.dtype == np.uint8 and out.shape == (33, 41, 3)
        assert np.array_equal(out, arr)


def test_grayscale_and_bilevel_become_three_equal_channels():
    g = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    out = decode_image(_save(Image.fromarray(g, "L")))
    assert out.shape == (6, 8, 3) and np.array_equal(out[..., 0], g)
    assert np.array_equal(out[..., 0], out[..., 2])
    bw = decode_image(_save(Image.fromarray(g > 100)))
    assert set(np.unique(bw).tolist()) <= {0, 255}


def test_palette_with_and_without_transparency(synth, rng):
    arr = synth.cell(rng, 20, 20)
    pal = Image.fromarray(arr).quantize(16)
    out = decode_image(_save(pal))
    assert out.shape == (20, 20, 3)
    assert np.array_equal(out, np.asarray(pal.convert("RGB")))
    pal.info["transparency"] = int(np.asarray(pal)[10, 10])  # the centre colour is see-through
    out_t = decode_image(_save(pal, transparency=pal.info["transparency"]))
    assert np.all(out_t[10, 10] == 0)  # composited onto black


def test_rgba_and_la_alpha_composited_onto_black():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = [200, 100, 50]
    rgba[0, :, 3] = 255
    rgba[1, :, 3] = 0
    rgba[2, :, 3] = 128
    out = decode_image(_save(Image.fromarray(rgba, "RGBA")))
    assert np.all(out[0] == [200, 100, 50])
    assert np.all(out[1] == 0)
    assert np.all(np.abs(out[2].astype(int) - [100, 50, 25]) <= 1)
    la = np.stack([np.full((3, 3), 240, np.uint8), np.full((3, 3), 0, np.uint8)], -1)
    assert np.all(decode_image(_save(Image.fromarray(la, "LA"))) == 0)


def test_sixteen_bit_grey_and_rgb_keep_the_high_byte(synth):
    grey = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000)
    out = decode_image(synth.raw_png(grey, 16, 0))
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    assert np.array_equal(out[..., 1], (grey >> 8).astype(np.uint8))
    rgb = np.stack([grey, grey // 2, 65535 - grey], -1)
    out = decode_image(synth.raw_png(rgb, 16, 2))
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    assert np.all(np.abs(out.astype(int) - (rgb >> 8)) <= 1)


def test_jpeg_and_resize_shape(synth, rng):
    arr = synth.cell(rng, 50, 30)
    out = decode_resized(_save(Image.fromarray(arr), format="JPEG", quality=95), 24)
    assert out.shape == (24, 24, 3) and out.dtype == np.uint8
    assert out[12, 12].mean() > 100 and out[0, 0].max() < 40  # cell in the middle, black corner


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"this is not an image at all", "not an image"),
])
def test_broken_files_raise_image_error_naming_the_file(tmp_path, content, reason):
    p = tmp_path / "C1_thinF_bad.png"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as e:
        decode_image(p)
    assert str(p) in str(e.value)
    with pytest.raises(ImageError, match="given-name"):
        decode_image(content, name="given-name")


def test_truncated_png_raises(tmp_path, synth, rng):
    data = synth.png_bytes(synth.cell(rng, 60, 60))
    for cut in (len(data) // 2, len(data) - 20, 30):
        with pytest.raises(ImageError) as e:
            decode_image(data[:cut], name=f"cut{cut}.png")
        assert f"cut{cut}.png" in str(e.value)


def test_decompression_bomb_guard_stays_on(monkeypatch, synth, rng):
    data = synth.png_bytes(synth.cell(rng, 64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64*64 = 4096 > 2 x limit: error
    with pytest.raises(ImageError, match="decompression-bomb"):
        decode_image(data, name="bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # over the limit: a warning, refused too
    with pytest.raises(ImageError, match="decompression-bomb"):
        decode_image(data, name="bomb.png")


def test_load_images_keeps_order_and_reports_skips(tmp_path, synth, rng):
    good = [synth.write_png(tmp_path / f"g{i}.png", synth.cell(rng, 30 + i, 30)) for i in range(3)]
    bad = tmp_path / "zero.png"
    bad.write_bytes(b"")
    paths = [good[0], bad, good[1], tmp_path / "missing.png", good[2]]
    with pytest.warns(SkippedFileWarning) as rec:
        images, kept, skipped = load_images(paths, 16)
    assert ["zero.png" in str(r.message) for r in rec] == [True, False]
    assert "missing.png" in str(rec[1].message)
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    assert kept.tolist() == [0, 2, 4]
    assert [s[0] for s in skipped] == [str(bad), str(tmp_path / "missing.png")]
