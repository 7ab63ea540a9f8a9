"""Registry endpoints under ``/api/v1`` (projects, issuance, blocks, retirements, public lookup)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["registry"])
