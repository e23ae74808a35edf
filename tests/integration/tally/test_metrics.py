"""The tally service exposes the pipeline's state to Prometheus, with the values it has."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.tally.metrics import refresh
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables import OcrJob
from tests.integration.tally.seed import accept, ppwp_votes, read, submit

TPS = "1708012001001"


def samples(text: str) -> dict[str, float]:
    """`name{label="v"}` → value, for every sample on the page."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


async def test_pipeline_gauges_count_what_is_waiting(
    tally_client: httpx.AsyncClient, tally_db: Database
) -> None:
    queued_id, _ = await submit(tally_db, TPS, "PPWP", 1)
    review_id, _ = await submit(tally_db, TPS, "PPWP", 2)
    an_hour_ago = utcnow() - timedelta(hours=1)
    async with tally_db.transaction() as session:
        session.add(
            OcrJob(
                submission_id=queued_id,
                status="queued",
                created_at=an_hour_ago,
                run_after=an_hour_ago,
            )
        )
    await read(tally_db, review_id, ppwp_votes(62, 20, 10))  # waits for a person

    await refresh(tally_db)
    values = samples((await tally_client.get("/metrics")).text)

    assert values['sirekap_ocr_queue_depth{status="queued"}'] == 1
    assert values['sirekap_ocr_queue_depth{status="running"}'] == 0
    assert values["sirekap_ocr_queue_oldest_seconds"] >= 3600
    assert values["sirekap_review_backlog"] == 1
    # Both photos' and the reading's audit events wait for the sequencer (not run here).
    assert values["sirekap_log_pending"] == 3
    assert values["sirekap_log_size"] == 0
    assert values["sirekap_log_pending_oldest_seconds"] >= 0
    assert 'sirekap_read_latency_seconds{quantile="0.95"}' in values

    await accept(tally_db, review_id, ppwp_votes(62, 20, 10), source="confirmed")
    await refresh(tally_db)
    values = samples((await tally_client.get("/metrics")).text)
    assert values["sirekap_review_backlog"] == 0
