"""The OCR worker's log lines carry the job and submission they are about."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.ocr.reader.classifier import default_classifier
from services.ocr.worker import Worker
from shared.db.engine import Database
from shared.forms.generate import generate_photo
from shared.forms.truth import make_truth
from shared.logs import current_fields
from shared.storage import LocalObjectStore
from tests.integration.ocr.conftest import DPT, TPS_CODE, add_submission
from tests.support.logs import CapturedLog, captured_json_log


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: binding log fields does not depend on the database."""
    return sqlite_url


@pytest.fixture
def lines() -> Iterator[CapturedLog]:
    with captured_json_log("sirekap.ocr", "ocr") as log:
        yield log


async def test_a_done_job_and_a_failed_job_log_their_ids(
    db: Database, tmp_path: Path, lines: CapturedLog
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    truth = make_truth("PPWP", TPS_CODE, seed=3, dpt=DPT)
    photo, _ = generate_photo(TPS_CODE, "PPWP", 2, truth, "clean", seed=3, side="eval")
    good = await add_submission(db, photo, page=2, store=store)
    missing = await add_submission(db, photo, page=2)  # its photo never reached the store
    worker = Worker(db, store, default_classifier(), "w-logs")
    assert await worker.run_once() and await worker.run_once()
    assert current_fields() == {}  # nothing stays bound after a job
    entries = lines.entries()
    by_submission = {e["submission_id"]: e for e in entries}
    assert set(by_submission) == {good, missing}
    done, failed = by_submission[good], by_submission[missing]
    assert done["level"] == "INFO" and done["msg"] == f"job {done['job_id']} done"
    assert isinstance(done["job_id"], int) and done["duration_ms"] > 0
    assert failed["level"] == "ERROR" and failed["job_id"] != done["job_id"]
    assert failed["msg"].endswith(f"(submission {missing}) failed")
    assert isinstance(failed["exc_info"], str) and "Traceback" in failed["exc_info"]
    assert all(e["service"] == "ocr" and e["request_id"] is None for e in entries)
