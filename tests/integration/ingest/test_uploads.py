"""Signed single-request uploads through the whole path, on both backends."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func, select

from clients.kpps.client import UploadRefused, now_rfc3339
from shared.db.tables import AuditEvent, Device, OcrJob, Submission
from shared.signing import UploadClaim, sign
from shared.storage import photo_key
from tests.integration.ingest.conftest import OTHER_TPS, TPS, Ingest
from tests.support.photos import make_jpeg, make_png, sha256


async def counts(ingest: Ingest) -> dict[str, int]:
    async with ingest.db.reading() as session:
        return {
            "submissions": await session.scalar(select(func.count()).select_from(Submission)) or 0,
            "jobs": await session.scalar(select(func.count()).select_from(OcrJob)) or 0,
            "photo_events": await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "photo")
            )
            or 0,
            "objects": len(await ingest.state.store.list("photos/")),
        }


async def test_upload_then_retry_returns_the_same_receipt(ingest: Ingest) -> None:
    profile = await ingest.device()
    client = ingest.client(profile)
    photo = make_jpeg(1)
    first = await client.upload_single(photo, contest="PPWP", page=1)
    again = await client.upload_single(photo, contest="PPWP", page=1)
    assert first["sha256"] == sha256(photo)
    assert first["duplicate"] is False and again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"
    }
    assert await counts(ingest) == {"submissions": 1, "jobs": 1, "photo_events": 1, "objects": 1}
    assert await ingest.state.store.get(photo_key(sha256(photo))) == photo


async def test_a_retake_is_a_new_version_and_keeps_the_first(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    first = await client.upload_single(make_jpeg(1), contest="PPWP", page=1)
    second = await client.upload_single(make_jpeg(2), contest="PPWP", page=1)
    assert (first["version"], second["version"]) == (1, 2)
    assert first["submission_id"] != second["submission_id"]
    assert (await counts(ingest))["objects"] == 2


async def test_the_photo_event_binds_the_signed_fields(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    receipt = await client.upload_single(make_jpeg(3), contest="PPWP", page=1)
    async with ingest.db.reading() as session:
        event = await session.get(AuditEvent, receipt["event_id"])
        submission = await session.get(Submission, receipt["submission_id"])
        assert event is not None and submission is not None
        device = await session.get(Device, submission.device_id)
    assert device is not None
    import json

    body: dict[str, Any] = json.loads(event.body)
    claim = UploadClaim(
        device_id=body["device"],
        tps=body["tps"],
        contest=body["contest"],
        page=body["page"],
        sha256=body["sha256"],
        captured_at=body["captured_at"],
    )
    from shared.signing import verify

    assert verify(bytes.fromhex(body["device_key"]), claim.signed_bytes(), body["signature"])
    assert body["device_key"] == device.public_key.hex()


async def post(
    ingest: Ingest, photo: bytes, claim: UploadClaim, signature: str, **over: str
) -> Any:
    params = {
        "tps": claim.tps,
        "contest": claim.contest,
        "page": str(claim.page),
        "sha256": claim.sha256,
        "captured_at": claim.captured_at,
        **over,
    }
    return await ingest.http.post(
        "/v1/uploads",
        params=params,
        content=photo,
        headers={"Sirekap-Device": claim.device_id, "Sirekap-Signature": signature},
    )


async def test_forged_signature_is_refused_and_nothing_is_stored(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(4)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    other = await ingest.device()
    forged = sign(other.key(), claim.signed_bytes())  # a real key, but not this device's
    response = await post(ingest, photo, claim, forged)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    # A valid signature over other fields does not carry over to a changed page.
    good = sign(profile.key(), claim.signed_bytes())
    response = await post(ingest, photo, claim, good, page="2")
    assert response.status_code == 401
    assert await counts(ingest) == {"submissions": 0, "jobs": 0, "photo_events": 0, "objects": 0}


async def test_device_of_another_tps_is_forbidden(ingest: Ingest) -> None:
    other = await ingest.device(OTHER_TPS)
    photo = make_jpeg(5)
    claim = UploadClaim(other.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    response = await post(ingest, photo, claim, sign(other.key(), claim.signed_bytes()))
    assert response.status_code == 403
    assert "1708011007002" in response.json()["detail"]
    assert (await counts(ingest))["objects"] == 0


async def test_revoked_device_is_forbidden(ingest: Ingest) -> None:
    from shared.auth import Official, Role, issue_token

    profile = await ingest.device()
    token = issue_token(ingest.settings.auth_secret, Official("pps1", Role.PPS, "17.08.01.1007"))
    response = await ingest.http.post(
        f"/v1/devices/{profile.device_id}/revoke",
        json={"reason": "phone lost"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    with pytest.raises(UploadRefused) as refused:
        await ingest.client(profile).upload_single(make_jpeg(6), contest="PPWP", page=1)
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("body", "status", "why"),
    [
        (b"", 400, "empty"),
        (b"<html><body>not a photo</body></html>", 415, "neither a JPEG nor a PNG"),
        (b"PK\x03\x04" + b"\0" * 5000, 415, "neither a JPEG nor a PNG"),
        (make_jpeg(7)[:40_000], 422, "corrupt or truncated"),
        (make_jpeg(8, size=(640, 480)), 422, "too small"),
    ],
)
async def test_bad_bodies_are_refused_with_a_reason(
    ingest: Ingest, body: bytes, status: int, why: str
) -> None:
    profile = await ingest.device()
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(body), now_rfc3339())
    response = await post(ingest, body, claim, sign(profile.key(), claim.signed_bytes()))
    assert response.status_code == status, response.text
    assert why in response.json()["detail"]
    assert response.json()["detail_id"]
    assert await counts(ingest) == {"submissions": 0, "jobs": 0, "photo_events": 0, "objects": 0}


async def test_declared_hash_must_match_the_body(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(9)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, "0" * 64, now_rfc3339())
    response = await post(ingest, photo, claim, sign(profile.key(), claim.signed_bytes()))
    assert response.status_code == 422
    assert "SHA-256" in response.json()["detail"]
    assert (await counts(ingest))["objects"] == 0


async def test_oversized_body_is_413(ingest: Ingest) -> None:
    ingest.settings.max_upload_bytes = 50_000
    profile = await ingest.device()
    photo = make_jpeg(10)
    assert len(photo) > 50_000
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    response = await post(ingest, photo, claim, sign(profile.key(), claim.signed_bytes()))
    assert response.status_code == 413
    assert (await counts(ingest))["objects"] == 0


async def test_pixel_bomb_is_refused_before_decoding(ingest: Ingest) -> None:
    ingest.settings.max_pixels = 1_000_000
    profile = await ingest.device()
    photo = make_png((2000, 1500))
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    response = await post(ingest, photo, claim, sign(profile.key(), claim.signed_bytes()))
    assert response.status_code == 422
    assert "exceeds the limit" in response.json()["detail"]


@pytest.mark.parametrize(
    ("override", "field"),
    [({"contest": "PILKADA"}, "contest"), ({"page": "60"}, "page"), ({"tps": "17080110"}, "tps")],
)
async def test_out_of_scope_claims_are_422(
    ingest: Ingest, override: dict[str, str], field: str
) -> None:
    profile = await ingest.device()
    photo = make_jpeg(11)
    fields = {"tps": TPS, "contest": "PPWP", "page": 1, **override}
    claim = UploadClaim(
        profile.device_id,
        str(fields["tps"]),
        str(fields["contest"]),
        int(str(fields["page"])),
        sha256(photo),
        now_rfc3339(),
    )
    response = await post(ingest, photo, claim, sign(profile.key(), claim.signed_bytes()))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(field) or field in response.json()["detail"]


async def test_enrolment_code_is_single_use_and_needs_proof(ingest: Ingest) -> None:
    from clients.kpps.client import enroll

    code = await ingest.code()
    await enroll("http://ingest", TPS, code, transport=ingest.http._transport)
    with pytest.raises(UploadRefused) as reused:
        await enroll("http://ingest", TPS, code, transport=ingest.http._transport)
    assert reused.value.status == 409
    code2 = await ingest.code()
    response = await ingest.http.post(
        "/v1/devices",
        json={
            "tps": TPS,
            "code": code2,
            "public_key": base64.b64encode(b"k" * 32).decode(),
            "proof": base64.b64encode(b"s" * 64).decode(),
        },
    )
    assert response.status_code == 401
    with pytest.raises(UploadRefused) as wrong_tps:
        await enroll(
            "http://ingest", OTHER_TPS, await ingest.code(), transport=ingest.http._transport
        )
    assert wrong_tps.value.status == 401


async def test_status_endpoint_reports_received(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    receipt = await client.upload_single(make_jpeg(12), contest="PPWP", page=1)
    response = await ingest.http.get(receipt["status_url"])
    assert response.status_code == 200
    assert response.json()["status"] == "received"
    assert response.json()["reading"] is None
    assert (await ingest.http.get("/v1/submissions/nope")).status_code == 404


async def test_health_readiness_and_metrics(ingest: Ingest) -> None:
    assert (await ingest.http.get("/healthz")).json() == {"status": "ok"}
    assert (await ingest.http.get("/readyz")).json() == {"status": "ready"}
    client = ingest.client(await ingest.device())
    await client.upload_single(make_jpeg(13), contest="PPWP", page=1)
    text = (await ingest.http.get("/metrics")).text
    assert 'sirekap_uploads_total{outcome="created"}' in text
    assert "sirekap_handoff_seconds_bucket" in text
    response = await ingest.http.get("/v1/tus/nope", headers={"Tus-Resumable": "1.0.0"})
    assert response.headers["X-Request-Id"]


async def test_the_receipt_gains_its_log_index_and_inclusion_proof(ingest: Ingest) -> None:
    """Once sequenced and covered by a signed checkpoint, the phone can fetch a proof that its
    photo is in the public record, and check it against the checkpoint's root."""
    import base64

    from shared.audit.checkpoint import Checkpoint
    from shared.audit.config import LogConfig
    from shared.audit.merkle import verify_inclusion
    from shared.audit.sequencer import Sequencer

    client = ingest.client(await ingest.device())
    receipt = await client.upload_single(make_jpeg(14), contest="PPWP", page=1)
    before = (await ingest.http.get(receipt["status_url"])).json()["log"]
    assert before["entry_sha256"] and before["index"] is None
    sequencer = Sequencer(ingest.db, LogConfig.from_settings(ingest.settings))
    await sequencer.integrate_all()
    await sequencer.checkpoint()
    log = (await ingest.http.get(receipt["status_url"])).json()["log"]
    proof = log["inclusion_proof"]
    assert log["index"] is not None and proof is not None
    body = proof["checkpoint"].split("\n\n")[0] + "\n"
    checkpoint = Checkpoint.parse(body)
    verify_inclusion(
        log["index"],
        proof["tree_size"],
        base64.b64decode(proof["leaf_hash"]),
        [base64.b64decode(p) for p in proof["proof"]],
        checkpoint.root,
    )
