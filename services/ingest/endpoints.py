"""Enrolment, revocation, submission status and health: the ingest service's small endpoints."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.enrolment import (
    enrol_device,
    issue_code,
    require_official_for_tps,
    revoke_device,
)
from services.ingest.intake import receipt_of
from services.ingest.state import IngestState, StateDep
from shared.audit import store as log_store
from shared.audit.merkle import leaf_hash
from shared.auth import Official, bearer, verify_token
from shared.db.tables import AuditEvent, Submission
from shared.errors import NotFound
from shared.events import format_time

router = APIRouter(prefix="/v1", tags=["devices"])
health = APIRouter(tags=["operations"])


def _official(state: IngestState, authorization: str | None) -> Official:
    return verify_token(state.settings.auth_secret, bearer(authorization))


class CodeRequest(BaseModel):
    tps: str = Field(pattern=r"^\d{13}$")


class EnrolRequest(BaseModel):
    tps: str = Field(pattern=r"^\d{13}$")
    code: str = Field(min_length=6, max_length=20)
    public_key: str = Field(max_length=64, description="base64 of the 32-byte Ed25519 key")
    proof: str = Field(max_length=128, description="base64 signature of the enrolment bytes")
    label: str = Field(default="", max_length=120)


class RevokeRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


@router.post("/enrolment-codes", status_code=201, summary="Issue a one-time enrolment code")
async def post_enrolment_code(
    body: CodeRequest,
    state: StateDep,
    authorization: Annotated[str | None, Header(max_length=2048)] = None,
) -> dict[str, Any]:
    official = _official(state, authorization)
    require_official_for_tps(official, body.tps)
    async with state.db.transaction() as session:
        code, expires_at = await issue_code(
            session,
            tps_code=body.tps,
            issued_by=official.username,
            ttl_s=state.settings.enrolment_code_ttl_s,
        )
    return {"tps": body.tps, "code": code, "expires_at": format_time(expires_at)}


@router.post("/devices", status_code=201, summary="Enrol a KPPS device's key for one TPS")
async def post_device(body: EnrolRequest, state: StateDep) -> dict[str, Any]:
    async with state.db.transaction() as session:
        device = await enrol_device(
            session,
            tps_code=body.tps,
            code=body.code,
            public_key_b64=body.public_key,
            proof=body.proof,
            label=body.label,
        )
    return {
        "device_id": device.id,
        "tps": device.tps_code,
        "enrolled_at": format_time(device.enrolled_at),
    }


@router.post("/devices/{device_id}/revoke", summary="Revoke a device")
async def post_revoke(
    device_id: str,
    body: RevokeRequest,
    state: StateDep,
    authorization: Annotated[str | None, Header(max_length=2048)] = None,
) -> dict[str, Any]:
    official = _official(state, authorization)
    async with state.db.transaction() as session:
        device = await revoke_device(
            session, device_id=device_id[:36], official=official, reason=body.reason
        )
    assert device.revoked_at is not None
    return {"device_id": device.id, "revoked_at": format_time(device.revoked_at)}


@router.get("/submissions/lookup", summary="Is this photo already received? (before uploading)")
async def lookup_submission(
    state: StateDep,
    tps: Annotated[str, Query(pattern=r"^\d{13}$")],
    contest: Annotated[str, Query(max_length=16)],
    page: Annotated[int, Query(ge=1, le=99)],
    sha256: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> dict[str, Any]:
    """Lets a phone on a weak link skip re-sending a photo the server already holds."""
    async with state.db.reading() as session:
        submission = (
            await session.execute(
                select(Submission).where(
                    Submission.tps_code == tps,
                    Submission.contest == contest,
                    Submission.page == page,
                    Submission.sha256 == sha256,
                )
            )
        ).scalar_one_or_none()
    if submission is None:
        raise NotFound("not received yet", "Foto ini belum diterima.")
    return receipt_of(submission, duplicate=True).to_json()


@router.get("/submissions/{submission_id}", summary="A submission's status and reading")
async def get_submission(submission_id: str, state: StateDep) -> dict[str, Any]:
    async with state.db.reading() as session:
        submission = await session.get(Submission, submission_id[:36])
        if submission is None:
            raise NotFound("no such submission", "Kiriman tidak ditemukan.")
        reading = await _reading_of(session, submission.id)
        logged = await _log_position(session, submission.event_id)
    return {
        **receipt_of(submission, duplicate=False).to_json(),
        "status": submission.status,
        "status_reason": submission.status_reason,
        "reading": reading,
        "log": logged,
    }


async def _log_position(session: AsyncSession, event_id: int) -> dict[str, Any]:
    """Where the photo's entry stands in the audit log: its hash at once, its index once
    sequenced, and its inclusion proof once a signed checkpoint covers it (RFC 9162 §2.1.3),
    so the officer's phone can keep proof that the photo is in the public record."""
    event = await session.get(AuditEvent, event_id)
    if event is None:
        return {"entry_sha256": None, "index": None, "inclusion_proof": None}
    position: dict[str, Any] = {
        "entry_sha256": event.entry_sha256,
        "index": event.log_index,
        "inclusion_proof": None,
    }
    checkpoint = await log_store.latest_checkpoint(session)
    if event.log_index is not None and checkpoint is not None and event.log_index < checkpoint.size:
        proof = await log_store.inclusion_proof(session, event.log_index, checkpoint.size)
        position["inclusion_proof"] = {
            "tree_size": checkpoint.size,
            "leaf_hash": base64.b64encode(leaf_hash(event.body)).decode(),
            "proof": [base64.b64encode(p).decode() for p in proof],
            "checkpoint": checkpoint.note,
        }
    return position


async def _reading_of(session: AsyncSession, submission_id: str) -> dict[str, Any] | None:

    from shared.db.tables.readings import Reading

    reading = (
        await session.execute(select(Reading).where(Reading.submission_id == submission_id))
    ).scalar_one_or_none()
    if reading is None:
        return None
    return {
        "outcome": reading.outcome,
        "values": reading.values,
        "failing": reading.failing,
        "confidence": reading.confidence,
        "model_sha256": reading.model_sha256,
    }


@health.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", summary="The database and the object store answer")
async def readyz(state: StateDep) -> JSONResponse:
    async with state.db.reading() as session:
        await session.execute(text("SELECT 1"))
    await state.store.check()
    return JSONResponse({"status": "ready"})
