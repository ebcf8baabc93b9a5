"""Which files `smearnet predict` classifies: each cell once, however it was named."""

from __future__ import annotations

import numpy as np
from PIL import Image

from smearnet.pipeline.predict import collect_images


def _cells(root, n=3):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(root / f"c{i}.png")
    return sorted(root.iterdir())


def test_overlapping_paths_list_each_file_once(tmp_path):
    files = _cells(tmp_path / "cells" / "a")
    (tmp_path / "cells" / "link.png").symlink_to(files[0])
    got = collect_images([tmp_path / "cells" / "a", files[1], tmp_path / "cells", tmp_path / "cells" / "a"])
    assert got == files  # folder first, then nothing again: not the file, the parent, the symlink
    assert collect_images([files[2], tmp_path / "cells" / "a"]) == [files[2], files[0], files[1]]
