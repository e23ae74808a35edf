"""Who may write what, where: every write endpoint of ingest and tally × role × inside/outside
its region, plus forged, expired, tampered and replayed credentials and a revoked device.

Expected: 401 without valid credentials, 403 out of scope or wrong role, 2xx inside scope.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clients.kpps.profile import Profile
from services.tally.review.kpps import review_bytes
from shared.auth import Official, Role, issue_token
from shared.db.engine import Database
from shared.db.tables import Device
from shared.signing import enrolment_bytes, sign
from tests.integration.ingest.conftest import OTHER_TPS, TPS, Ingest
from tests.integration.security.conftest import (
    assert_refusal,
    footprint,
    post_single,
    single_upload_request,
    tus_create,
)
from tests.integration.tally.conftest import AUTH_SECRET
from tests.integration.tally.seed import ppwp_votes, read, submit
from tests.support.photos import make_jpeg

# TPS 1708011007001 lies in desa 17.08.01.1007, kecamatan 17.08.01, Kepahiang 17.08, Bengkulu 17.
INSIDE = {
    Role.PPS: "17.08.01.1007",
    Role.PPK: "17.08.01",
    Role.KPU_KABKOTA: "17.08",
    Role.KPU_PROV: "17",
    Role.KPU: "00",
    Role.AUDITOR: "00",
}
OUTSIDE = {
    Role.PPS: "17.08.01.1008",
    Role.PPK: "17.08.02",
    Role.KPU_KABKOTA: "17.07",
    Role.KPU_PROV: "16",
}
WRITERS = [r for r in Role if r is not Role.AUDITOR]
# (role, region, expected status for a write on TPS) for every role inside and outside.
MATRIX = [
    *[(role, INSIDE[role], 403 if role is Role.AUDITOR else "ok") for role in Role],
    *[(role, OUTSIDE[role], 403) for role in OUTSIDE],
]
MATRIX_IDS = [f"{r.value}-{'in' if region == INSIDE[r] else 'out'}" for r, region, _ in MATRIX]


def bearer(secret: str, role: Role, region: str, ttl_s: int = 3600) -> dict[str, str]:
    token = issue_token(secret, Official(f"{role.value.lower()}-{region}", role, region), ttl_s)
    return {"Authorization": f"Bearer {token}"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bad_tokens(secret: str) -> dict[str, dict[str, str]]:
    """Credentials that must all answer 401."""
    good = bearer(secret, Role.PPS, INSIDE[Role.PPS])["Authorization"].removeprefix("Bearer ")
    payload_b64, mac_b64 = good.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    escalated = _b64(json.dumps({**payload, "role": "KPU", "region": "00"}).encode())
    expired = issue_token(secret, Official("pps", Role.PPS, INSIDE[Role.PPS]), ttl_s=-1)
    other_secret = issue_token(
        "another deployment's secret " + "y" * 10, Official("k", Role.KPU, "00")
    )
    unsigned = _b64(json.dumps({**payload, "role": "KPU"}).encode())
    wrong_alg_mac = _b64(hmac.new(b"", payload_b64.encode(), hashlib.sha256).digest())
    return {
        "none": {},
        "not-bearer": {"Authorization": f"Basic {base64.b64encode(b'kpu:kpu').decode()}"},
        "empty-bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not.a.token.at.all"},
        "escalated-payload": {"Authorization": f"Bearer {escalated}.{mac_b64}"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "other-secret": {"Authorization": f"Bearer {other_secret}"},
        "no-mac": {"Authorization": f"Bearer {unsigned}."},
        "empty-key-mac": {"Authorization": f"Bearer {payload_b64}.{wrong_alg_mac}"},
    }


# --- ingest: officials' endpoints --------------------------------------------------------------


async def test_issuing_enrolment_codes(ingest: Ingest) -> None:
    failures = []
    for (role, region, expected), name in zip(MATRIX, MATRIX_IDS, strict=True):
        headers = bearer(ingest.settings.auth_secret, role, region)
        res = await ingest.http.post("/v1/enrolment-codes", json={"tps": TPS}, headers=headers)
        want = 201 if expected == "ok" else expected
        if res.status_code != want:
            failures.append(f"{name}: {res.status_code} {res.text[:200]}")
        elif want == 403:
            assert_refusal(res, 403)
    assert not failures, "\n".join(failures)


async def test_revoking_a_device(ingest: Ingest) -> None:
    failures = []
    for seed, ((role, region, expected), name) in enumerate(zip(MATRIX, MATRIX_IDS, strict=True)):
        profile = await ingest.device()
        headers = bearer(ingest.settings.auth_secret, role, region)
        url = f"/v1/devices/{profile.device_id}/revoke"
        res = await ingest.http.post(url, json={"reason": "phone lost"}, headers=headers)
        upload = await post_single(ingest.http, profile, make_jpeg(100 + seed))
        want = (200, 403) if expected == "ok" else (403, 201)  # (revoke, a later upload)
        if (res.status_code, upload.status_code) != want:
            failures.append(f"{name}: revoke {res.status_code}, upload {upload.status_code}")
        elif want[0] == 403:
            assert_refusal(res, 403)
    assert not failures, "\n".join(failures)


async def test_officials_endpoints_refuse_bad_credentials(ingest: Ingest) -> None:
    profile = await ingest.device()
    for name, headers in bad_tokens(ingest.settings.auth_secret).items():
        res = await ingest.http.post("/v1/enrolment-codes", json={"tps": TPS}, headers=headers)
        assert res.status_code == 401, (name, res.text)
        assert_refusal(res, 401)
        res = await ingest.http.post(
            f"/v1/devices/{profile.device_id}/revoke", json={"reason": "x" * 5}, headers=headers
        )
        assert res.status_code == 401, (name, res.text)


# --- ingest: devices ---------------------------------------------------------------------------


async def test_uploads_by_device(ingest: Ingest) -> None:
    """Own TPS 201; another TPS's device 403; unknown, unsigned, forged 401; a replay is the
    same receipt and stores nothing new; a revoked device 403."""
    mine = await ingest.device()
    neighbour = await ingest.device(OTHER_TPS)
    photo = make_jpeg(31)
    assert (await post_single(ingest.http, mine, photo)).status_code == 201
    assert (await tus_create(ingest.http, mine, make_jpeg(32))).status_code == 201
    before = await footprint(ingest)

    # a device enrolled elsewhere, signing correctly with its own key, claiming our TPS
    impostor = Profile(
        server="", tps=TPS, device_id=neighbour.device_id, private_key=neighbour.private_key
    )
    assert_refusal(await post_single(ingest.http, impostor, make_jpeg(33)), 403)
    assert_refusal(await tus_create(ingest.http, impostor, make_jpeg(33)), 403)
    # our device id, someone else's key
    stranger_key = base64.b64encode(b"\7" * 32).decode()
    forger = Profile(server="", tps=TPS, device_id=mine.device_id, private_key=stranger_key)
    assert_refusal(await post_single(ingest.http, forger, make_jpeg(34)), 401)
    assert_refusal(await tus_create(ingest.http, forger, make_jpeg(34)), 401)
    # a device id nobody enrolled
    ghost = Profile(server="", tps=TPS, device_id="ghost", private_key=stranger_key)
    assert_refusal(await post_single(ingest.http, ghost, make_jpeg(35)), 401)
    # no device at all, or an official's token instead of a device signature
    official = bearer(ingest.settings.auth_secret, Role.KPU, "00")
    params, _ = single_upload_request(mine, photo)
    for headers in ({}, official):
        res = await ingest.http.post("/v1/uploads", params=params, headers=headers, content=photo)
        assert_refusal(res, 401)
    # a captured request replayed with another photo: the signature binds the SHA-256
    params, headers = single_upload_request(mine, make_jpeg(36))
    res = await ingest.http.post(
        "/v1/uploads", params=params, headers=headers, content=make_jpeg(37)
    )
    assert_refusal(res, 422)
    # the same claim re-signed for another page is a different claim: the signature fails
    params, headers = single_upload_request(mine, make_jpeg(36))
    res = await ingest.http.post(
        "/v1/uploads", params={**params, "page": 2}, headers=headers, content=make_jpeg(36)
    )
    assert_refusal(res, 401)
    assert await footprint(ingest) == before
    # an exact replay of an accepted upload is answered with its receipt, nothing more
    replay = await post_single(ingest.http, mine, photo)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert await footprint(ingest) == before


async def test_enrolment_codes_bind_one_device_to_one_tps(ingest: Ingest) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    code = await ingest.code(TPS)

    def body(tps: str, code: str, proof_key: Ed25519PrivateKey = key) -> dict[str, str]:
        return {
            "tps": tps,
            "code": code,
            "public_key": base64.b64encode(public).decode(),
            "proof": sign(proof_key, enrolment_bytes(tps, code, public)),
        }

    # a code read over a shoulder, used with a key its reader does not hold
    other_key = Ed25519PrivateKey.generate()
    assert_refusal(await ingest.http.post("/v1/devices", json=body(TPS, code, other_key)), 401)
    # the code for this TPS used for another
    assert_refusal(await ingest.http.post("/v1/devices", json=body(OTHER_TPS, code)), {401, 403})
    # a made-up code
    assert_refusal(await ingest.http.post("/v1/devices", json=body(TPS, "ZZZZZ-ZZZZZ")), 401)
    assert (await ingest.http.post("/v1/devices", json=body(TPS, code))).status_code == 201
    # a replayed enrolment: one code, one device
    assert_refusal(await ingest.http.post("/v1/devices", json=body(TPS, code)), {401, 409})


# --- tally -------------------------------------------------------------------------------------

REVIEW_TPS = "1708042001001"  # desa 17.08.04.2001, kecamatan 17.08.04
TALLY_INSIDE = {**INSIDE, Role.PPS: "17.08.04.2001", Role.PPK: "17.08.04"}
TALLY_MATRIX = [
    *[(role, TALLY_INSIDE[role], 403 if role is Role.AUDITOR else "ok") for role in Role],
    *[(role, OUTSIDE[role], 403) for role in OUTSIDE],
]
FAILING = [{"field": "100025", "rule": "R3", "reason_en": "sum", "reason_id": "jumlah"}]
PAGE = f"/api/v1/pages/{REVIEW_TPS}/PPWP/2"


async def _waiting_page(db: Database) -> str:
    sid, _ = await submit(db, REVIEW_TPS, "PPWP", 2)
    await read(db, sid, {**ppwp_votes(62, 20, 10), "100025": 562}, failing=FAILING)
    return sid


async def test_review_matrix(tally_db: Database, tally_client: httpx.AsyncClient) -> None:
    sid = await _waiting_page(tally_db)
    body = {"submission_id": sid, "values": {"100025": 62}, "reason": "X read as 5"}
    failures = []
    for role, region, expected in TALLY_MATRIX:
        revision = (await tally_client.get(PAGE)).json()["revision"]
        headers = {**bearer(AUTH_SECRET, role, region), "If-Match": f'"r{revision}"'}
        res = await tally_client.post(f"{PAGE}/review", json=body, headers=headers)
        want = 200 if expected == "ok" else expected
        if res.status_code != want:
            failures.append(f"{role} {region}: {res.status_code} {res.text[:200]}")
        elif want != 200:
            assert_refusal(res, want)
    for name, headers in bad_tokens(AUTH_SECRET).items():
        res = await tally_client.post(
            f"{PAGE}/review", json=body, headers={**headers, "If-Match": '"r0"'}
        )
        if res.status_code != 401:
            failures.append(f"token {name}: {res.status_code} {res.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_kpps_review_by_device(tally_db: Database, tally_client: httpx.AsyncClient) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    neighbour = Ed25519PrivateKey.generate()
    neighbour_public = neighbour.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    async with tally_db.transaction() as session:
        session.add(Device(id="mine", tps_code=REVIEW_TPS, public_key=public, label="k"))
        session.add(
            Device(id="neighbour", tps_code="1708042001002", public_key=neighbour_public, label="n")
        )
    sid = await _waiting_page(tally_db)
    values = {"100025": 62}

    def signed(device: str, signer: Ed25519PrivateKey, revision: int = 0) -> dict[str, object]:
        message = review_bytes(
            device_id=device, tps=REVIEW_TPS, contest="PPWP", page=2, submission_id=sid,
            revision=revision, values=values, reason="X read as 5",
        )  # fmt: skip
        return {"device_id": device, "submission_id": sid, "values": values,
                "reason": "X read as 5", "expected_revision": revision,
                "signature": sign(signer, message)}  # fmt: skip

    url = f"/api/v1/kpps/pages/{REVIEW_TPS}/PPWP/2/review"
    assert_refusal(await tally_client.post(url, json=signed("neighbour", neighbour)), 403)
    assert_refusal(await tally_client.post(url, json=signed("mine", neighbour)), 401)
    assert_refusal(await tally_client.post(url, json=signed("ghost", key)), 401)
    official = bearer(AUTH_SECRET, Role.KPU, "00")  # a token is not a device signature
    assert_refusal(
        await tally_client.post(
            url, json={**signed("mine", key), "signature": ""}, headers=official
        ),
        422,
    )
    ok = await tally_client.post(url, json=signed("mine", key))
    assert ok.status_code == 200, ok.text
    assert_refusal(await tally_client.post(url, json=signed("mine", key)), 409)  # replay
    async with tally_db.transaction() as session:
        device = await session.get(Device, "mine")
        assert device is not None
        from shared.db.base import utcnow

        device.revoked_at = utcnow()
    assert_refusal(await tally_client.post(url, json=signed("mine", key, revision=1)), 401)


async def test_sign_in_and_cosignatures_refuse_strangers(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    res = await tally_client.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": "guess"}
    )
    assert_refusal(res, 401)
    res = await tally_client.post(
        "/log/cosignatures",
        json={"size": 1, "cosignature": "— witness.example AAAA" + "A" * 40},
    )
    assert 400 <= res.status_code < 500, res.text
