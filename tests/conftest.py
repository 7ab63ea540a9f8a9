"""Shared fixtures: small demo counties built once per test session."""

from __future__ import annotations

import pytest

from tanhui.demo import build_demo


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory):
    """A 600-row demo county (all file formats, two surveys)."""
    return build_demo(tmp_path_factory.mktemp("demo_small"), n=600, seed=7)


@pytest.fixture(scope="session")
def demo_full(tmp_path_factory):
    """The default demo county, exactly as `tanhui demo` builds it (20,000 rows, seed 2026)."""
    return build_demo(tmp_path_factory.mktemp("demo_full"))
