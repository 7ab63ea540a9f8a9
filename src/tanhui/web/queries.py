"""Read-only views the pages need and the ledger does not offer yet.

Everything that changes the registry goes through :class:`~tanhui.registry.ledger.Ledger` and
:mod:`tanhui.registry.identity`. These few lists (a bank's pledges, a court's freezes, the
organisations to choose from) only read, inside a read-only unit of work, check the actor's role
with :func:`tanhui.registry.permissions.require` and show an organisation its own records only.
They belong in the ledger (``Ledger.pledges(actor)``, ``Ledger.freezes(actor)``); move them
there when it grows them, and keep the pages calling one function each.

:func:`certificate_data` turns the ledger's certificate record into the
:class:`~tanhui.registry.certificates.CertificateData` the renderer takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select

from tanhui.db.tables import Block, Freeze, FreezeBlock, Organisation, Pledge, PledgeBlock
from tanhui.db.uow import UnitOfWork
from tanhui.registry.certificates import CertificateData, from_record
from tanhui.registry.ledger import REGISTRY_ORGANISATION, ActorLike
from tanhui.registry.permissions import Action, require
from tanhui.registry.serials import SerialPrefix, SerialRange

__all__ = [
    "REGISTRY_NAME",
    "bank_pledges",
    "certificate_data",
    "court_freezes",
    "organisations",
]

#: The registry's name as printed on certificates (the ledger's own organisation name).
REGISTRY_NAME = REGISTRY_ORGANISATION


def _serial(block: Block) -> str:
    prefix = SerialPrefix(
        block.scheme,
        block.region_code,
        int(block.project_number),
        block.period_start.year,
        block.period_end.year,
    )
    return SerialRange(prefix, block.serial_start, block.serial_end).format()


def organisations(engine: Engine, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Organisations (id, name, kind) by name, optionally of some kinds only: the banks a holder
    may pledge to, the holders a court may freeze."""
    with UnitOfWork(engine, read_only=True) as uow:
        query = select(Organisation).order_by(Organisation.id)
        if kinds is not None:
            query = query.where(Organisation.kind.in_(list(kinds)))
        return [{"id": o.id, "name": o.name, "kind": o.kind} for o in uow.session.scalars(query)]


def bank_pledges(engine: Engine, actor: ActorLike) -> list[dict[str, Any]]:
    """The pledges offered to the actor's bank, newest first, with their blocks."""
    require(actor.roles, Action.confirm_pledge)
    with UnitOfWork(engine, read_only=True) as uow:
        session = uow.session
        names = {i: n for i, n in session.execute(select(Organisation.id, Organisation.name))}
        out = []
        for pledge in session.scalars(
            select(Pledge)
            .where(Pledge.bank_organisation_id == actor.organisation_id)
            .order_by(Pledge.id.desc())
        ):
            blocks = session.scalars(
                select(Block)
                .join(PledgeBlock, PledgeBlock.block_id == Block.id)
                .where(PledgeBlock.pledge_id == pledge.id)
                .order_by(Block.serial_start)
            ).all()
            out.append(
                {
                    "id": pledge.id,
                    "state": pledge.state,
                    "holder": names.get(pledge.holder_organisation_id, ""),
                    "quantity": pledge.quantity,
                    "loan_amount_fen": pledge.loan_amount_fen,
                    "contract_number": pledge.contract_number or "",
                    "requested_at": pledge.requested_at,
                    "serials": [_serial(b) for b in blocks],
                }
            )
        return out


def court_freezes(engine: Engine, actor: ActorLike) -> list[dict[str, Any]]:
    """The freezes the actor's court ordered, newest first, with their blocks."""
    require(actor.roles, Action.freeze)
    with UnitOfWork(engine, read_only=True) as uow:
        session = uow.session
        names = {i: n for i, n in session.execute(select(Organisation.id, Organisation.name))}
        out = []
        for record in session.scalars(
            select(Freeze)
            .where(Freeze.court_organisation_id == actor.organisation_id)
            .order_by(Freeze.id.desc())
        ):
            blocks = session.scalars(
                select(Block)
                .join(FreezeBlock, FreezeBlock.block_id == Block.id)
                .where(FreezeBlock.freeze_id == record.id)
                .order_by(Block.serial_start)
            ).all()
            out.append(
                {
                    "id": record.id,
                    "state": record.state,
                    "holder": names.get(record.holder_organisation_id or 0, ""),
                    "case_number": record.case_number,
                    "reason": record.reason,
                    "quantity": record.quantity,
                    "frozen_at": record.frozen_at,
                    "serials": [_serial(b) for b in blocks],
                }
            )
        return out


def certificate_data(record: dict[str, Any], verification_url: str) -> CertificateData:
    """The certificate of a retirement record (``Ledger.certificate(number)``)."""
    return from_record(record, verification_url=verification_url, registry_name=REGISTRY_NAME)
