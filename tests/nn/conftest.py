"""Fixtures for the nn tests, wrapping the builders in nn_builders.py."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import smearnet
from nn_builders import build_assignment_model, build_small_cnn, make_blobs, make_images


@pytest.fixture
def assignment_model() -> Callable[..., smearnet.Sequential]:
    return build_assignment_model


@pytest.fixture
def small_cnn() -> Callable[..., smearnet.Sequential]:
    return build_small_cnn


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs()


@pytest.fixture
def images() -> tuple[np.ndarray, np.ndarray]:
    return make_images()
