"""The web UI (Jinja2 + HTMX pages) mounted on the API application."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the pages and the static files to ``app``."""
