"""The REST API (FastAPI): :func:`create_app`, and :func:`serve` to run it with uvicorn.

Routers live in :mod:`tanhui.api.routers`, one per room; they depend on the typed dependencies of
:mod:`tanhui.api.deps`, answer errors as problem+json (:mod:`tanhui.api.problems`) and paginate
lists with :class:`tanhui.api.pagination.Page`.
"""

from tanhui.api.app import create_app
from tanhui.api.serve import serve

__all__ = ["create_app", "serve"]
