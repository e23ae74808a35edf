"""Prometheus metrics shared by the services, and the `/metrics` endpoint that serves them."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response

UPLOADS = Counter(
    "sirekap_uploads_total",
    "Photos received, by outcome.",
    ["outcome"],  # created | duplicate
)
UPLOAD_BYTES = Counter("sirekap_upload_bytes_total", "Bytes of photos stored.")
REFUSALS = Counter("sirekap_refusals_total", "Requests refused with a 4xx, by error.", ["error"])
UNAVAILABLE = Counter("sirekap_unavailable_total", "Requests answered 503 (a dependency down).")
HANDOFF_SECONDS = Histogram(
    "sirekap_handoff_seconds",
    "Time to store a photo and commit its submission, job and event.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# State of the pipeline, refreshed from the database by the tally service (one process reads
# them for the whole cluster; see services/tally/metrics.py).
QUEUE_DEPTH = Gauge("sirekap_ocr_queue_depth", "OCR jobs waiting or running.", ["status"])
QUEUE_AGE = Gauge(
    "sirekap_ocr_queue_oldest_seconds", "How long the longest-waiting queued OCR job has been due."
)
READ_LATENCY = Gauge(
    "sirekap_read_latency_seconds",
    "Upload-to-reading time of readings in the last 5 minutes (the newest 5,000 at most).",
    ["quantile"],
)
REVIEW_BACKLOG = Gauge("sirekap_review_backlog", "Submissions waiting for a person's review.")
LOG_SIZE = Gauge("sirekap_log_size", "Entries integrated into the audit log.")
SEQUENCING_LAG = Gauge("sirekap_log_pending", "Audit events not yet sequenced into the log.")
SEQUENCING_AGE = Gauge(
    "sirekap_log_pending_oldest_seconds", "Age of the oldest audit event not yet sequenced."
)
