"""Helpers for the web tests (imported by the tests and their conftest)."""

from __future__ import annotations

import re

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)
