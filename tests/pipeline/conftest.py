"""Fixtures for the pipeline tests: a small patient-structured subset of the shared images
(symlinks in tmp, never copies in the repository), broken and non-image files."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

import pytest

SLIDES, PER_CLASS = 30, 6  # 30 infected patients x (6 parasitized + 6 uninfected) = 360 cells


@pytest.fixture(scope="session")
def cell_subset(shared_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``Parasitized/`` and ``Uninfected/`` with 360 symlinked shared images from 30 slides."""
    by: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for cls in ("Parasitized", "Uninfected"):
        for name in sorted(os.listdir(shared_images / cls)):
            m = re.match(r"C(\d+)", name)
            if m and name.lower().endswith(".png"):
                by[f"C{m.group(1)}"][cls].append(name)
    slides = [s for s in sorted(by, key=lambda s: int(s[1:]))
              if all(len(by[s][c]) >= PER_CLASS for c in ("Parasitized", "Uninfected"))][:SLIDES]
    if len(slides) < SLIDES:
        pytest.skip("shared images hold too few slides with both classes")
    root = tmp_path_factory.mktemp("cells") / "cell_images"
    for cls in ("Parasitized", "Uninfected"):
        (root / cls).mkdir(parents=True)
        for s in slides:
            for name in by[s][cls][:PER_CLASS]:
                (root / cls / name).symlink_to(shared_images / cls / name)
    return root
