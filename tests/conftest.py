"""Shared fixtures: where the real malaria images are, and a private cache folder per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_images_path() -> Path | None:
    """``$SMEARNET_DATA`` or ``../shared/malaria/cell_images`` beside the repository, if present."""
    env = os.environ.get("SMEARNET_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "malaria" / "cell_images")
    for c in candidates:
        if (c / "Parasitized").is_dir() and (c / "Uninfected").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """The real shared images folder; skips the test where it is absent."""
    path = shared_images_path()
    if path is None:
        pytest.skip("real malaria images not found (set SMEARNET_DATA or place ../shared beside the repo)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write caches into the user's home or into ../shared."""
    if "SMEARNET_HOME" not in os.environ:
        os.environ["SMEARNET_HOME"] = str(tmp_path_factory.mktemp("smearnet_home"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
