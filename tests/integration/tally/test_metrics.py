"""The tally service exposes the pipeline's state to Prometheus."""

from __future__ import annotations

import httpx

from services.tally.metrics import refresh
from shared.db.engine import Database


async def test_pipeline_gauges_are_served(
    tally_client: httpx.AsyncClient, tally_db: Database
) -> None:
    await refresh(tally_db)
    text = (await tally_client.get("/metrics")).text
    for gauge in (
        'sirekap_ocr_queue_depth{status="queued"}',
        "sirekap_ocr_queue_oldest_seconds",
        'sirekap_read_latency_seconds{quantile="0.95"}',
        "sirekap_review_backlog",
        "sirekap_log_size",
        "sirekap_log_pending",
        "sirekap_log_pending_oldest_seconds",
    ):
        assert gauge in text, gauge
