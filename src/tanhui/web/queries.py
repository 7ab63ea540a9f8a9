"""Small read helpers of the pages.

:func:`organisations` lists the parties to choose from (the banks a holder may pledge to, the
holders a court may freeze); :func:`certificate_data` renders a ledger retirement record.
Everything else the pages read or change goes through :class:`~tanhui.registry.ledger.Ledger`
and :mod:`tanhui.registry.identity`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select

from tanhui.db.tables import Organisation
from tanhui.db.uow import UnitOfWork
from tanhui.registry.certificates import CertificateData, from_record
from tanhui.registry.ledger import REGISTRY_ORGANISATION

__all__ = [
    "REGISTRY_NAME",
    "certificate_data",
    "organisations",
]

#: The registry's name as printed on certificates (the ledger's own organisation name).
REGISTRY_NAME = REGISTRY_ORGANISATION


def organisations(engine: Engine, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Organisations (id, name, kind) by name, optionally of some kinds only: the banks a holder
    may pledge to, the holders a court may freeze."""
    with UnitOfWork(engine, read_only=True) as uow:
        query = select(Organisation).order_by(Organisation.id)
        if kinds is not None:
            query = query.where(Organisation.kind.in_(list(kinds)))
        return [{"id": o.id, "name": o.name, "kind": o.kind} for o in uow.session.scalars(query)]


def certificate_data(record: dict[str, Any], verification_url: str) -> CertificateData:
    """The certificate of a retirement record (``Ledger.certificate(number)``)."""
    return from_record(record, verification_url=verification_url, registry_name=REGISTRY_NAME)
