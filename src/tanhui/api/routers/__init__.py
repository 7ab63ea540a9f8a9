"""The API's routers, one module per room (``auth``, ``admin``, …)."""
