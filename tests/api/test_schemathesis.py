"""Schemathesis against the app's own OpenAPI document, over the ASGI transport.

Every operation of the registry API (and every read-only operation of the others) gets a bounded
Hypothesis run on a SQLite registry seeded with the demo county, as the administrator, as a
holder and anonymously, with valid and invalid inputs. The checks: no 5xx, and every response
(status, content type, body) is one the schema documents.

One pytest item per operation, so ``-n`` spreads them over workers; each worker seeds its own
database once. ``TANHUI_FUZZ_EXAMPLES=N`` searches longer, with random seeds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_helpers import login, make_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tanhui.api import create_app
from tanhui.db import make_engine, upgrade
from tanhui.registry.seed import PARTIES, seed

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
#: Examples per operation. ``TANHUI_FUZZ_EXAMPLES=500`` runs a longer, randomized search
#: (the default run is derandomized, so CI is reproducible).
MAX_EXAMPLES = int(os.environ.get("TANHUI_FUZZ_EXAMPLES", "20"))
DERANDOMIZE = "TANHUI_FUZZ_EXAMPLES" not in os.environ
#: Who calls: every seeded login (each role of the chain), or nobody.
CALLERS = (*(party[3] for party in PARTIES), None)


def _operations() -> list[str]:
    """``METHOD path`` of every operation under test, read from the schema without a database."""
    app = create_app(make_settings("sqlite://"))
    chosen = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if "registry" in operation.get("tags", ()) or method == "get":
                chosen.append(f"{method.upper()} {path}")
    return sorted(chosen)


#: Known failures outside the registry router: ``tanhui.api.pagination.page_params`` and the
#: admin routes' path ids take any integer, and one past 2**63 overflows SQLite (a 500).
_OVERFLOW = "unbounded integer: SQLite OverflowError (500)"
KNOWN = {
    "GET /api/v1/admin/organisations": _OVERFLOW,
    "GET /api/v1/admin/organisations/{organisation_id}": _OVERFLOW,
    "GET /api/v1/admin/users": _OVERFLOW,
    "GET /api/v1/admin/users/{user_id}": _OVERFLOW,
}
OPERATIONS = [
    pytest.param(op, marks=pytest.mark.xfail(reason=KNOWN[op], strict=False)) if op in KNOWN else op
    for op in _operations()
]


class Seeded:
    def __init__(self, app, headers: dict[str | None, dict[str, str]]) -> None:
        self.app = app
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        self.headers = headers


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    """The demo county's registry on a SQLite file (one per xdist worker) and its logins."""
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'registry.db'}"
    upgrade(url)
    engine = make_engine(url)
    world = seed(engine, folder, rows=500)
    app = create_app(make_settings(url), engine=engine)
    with TestClient(app) as client:
        headers: dict[str | None, dict[str, str]] = {None: {}}
        for who in CALLERS:
            if who is not None:
                headers[who] = login(client, who, world.logins[who])
        yield Seeded(app, headers)
    engine.dispose()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_operation_conforms_to_its_schema(seeded: Seeded, operation: str) -> None:
    method, path = operation.split(" ", 1)
    endpoint = seeded.schema[path][method]
    cases = st.one_of(
        endpoint.as_strategy(generation_mode=GenerationMode.POSITIVE),
        endpoint.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, who=st.sampled_from(CALLERS))
    def run(case, who) -> None:
        if who is not None and case.headers:  # a logged-in caller: no generated credentials
            for name in [h for h in case.headers if h.lower() in ("authorization", "x-api-key")]:
                del case.headers[name]
        case.call_and_validate(headers=seeded.headers[who], checks=CHECKS)

    run()
