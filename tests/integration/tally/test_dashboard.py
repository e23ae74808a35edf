"""The officials' dashboard in real headless Chromium: drill-down, chart, review with boxes."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from PIL import Image

from services.tally.app import create_app
from shared.auth import Role
from shared.db.engine import open_database
from shared.db.migrate import upgrade
from shared.reference.load import load_reference
from shared.settings import Settings
from shared.storage import LocalObjectStore, photo_key
from tests.integration.tally.cdp import chromium_page
from tests.integration.tally.conftest import AUTH_SECRET, PASSWORD, add_official
from tests.integration.tally.seed import accept, ppwp_votes, read, submit

pytestmark = pytest.mark.browser
TPS = "1708042001001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """The tally app under uvicorn on a loopback port, on a fresh SQLite database."""

    settings: Settings
    port: int = field(default_factory=_free_port)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = create_app(self.settings, run_sequencer=False)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(environment="test", data_dir=tmp_path, auth_secret=AUTH_SECRET)
    upgrade(settings.resolved_database_url)
    running = Served(settings)
    yield running
    running.stop()


def _photo(width: int = 400, height: int = 280) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(buf, format="PNG")
    return buf.getvalue()


async def test_dashboard_drill_down_and_review(served: Served) -> None:
    base, settings = served.base, served.settings
    db = open_database(settings.resolved_database_url)
    try:
        await load_reference(db, "17.08")
        done, _ = await submit(db, "1708042001002", "PPWP", 2)
        await accept(db, done, ppwp_votes(30, 40, 10))
        photo = _photo()
        sid, sha = await submit(db, TPS, "PPWP", 2, photo=photo)
        store = LocalObjectStore(settings.resolved_storage_path)
        await store.put(photo_key(sha), photo, "image/png")
        crop = f"crops/{sid}/100025_0.png"  # the X the 2024 app read as a 5
        await store.put(crop, _photo(40, 56), "image/png")
        failing = [{"field": "100025", "rule": "R3", "reason_en": "sum", "reason_id": "jumlah"}]
        machine = {**ppwp_votes(62, 20, 10), "100025": 562}
        await read(db, sid, machine, failing=failing, crops={"100025": [crop, None, None]})
        await add_official(db, "pps-1", Role.PPS, "17.08.04.2001")
    finally:
        await db.dispose()

    served.start()  # after seeding, so its region index holds the loaded regions
    async with chromium_page() as page:
        await page.goto(f"{base}/dashboard/#/region/17.08")
        rows = await page.wait_for("document.querySelectorAll('#children tbody tr').length")
        assert rows == 8
        assert await page.eval("document.querySelectorAll('#chart-svg rect').length") == 3
        progress = await page.eval("document.querySelector('#progress').textContent")
        assert "1 / 526 TPS" in progress
        assert "WIB" in await page.eval("document.querySelector('#updated').textContent")

        # Drill down: kecamatan → desa → its TPS rows.
        await page.eval("document.querySelector('#children a[href=\"#/region/17.08.04\"]').click()")
        await page.wait_for(
            "document.querySelector('#region-title')?.textContent.includes('17.08.04')"
        )
        await page.eval(
            "document.querySelector('#children a[href=\"#/region/17.08.04.2001\"]').click()"
        )
        await page.wait_for("!!document.querySelector('#children a[href=\"#/tps/1708042001002\"]')")

        # Sign in, open the queue, review the page with the photo and its uncertain box.
        await page.eval(
            f"""document.querySelector('#username').value = 'pps-1';
            document.querySelector('#password').value = '{PASSWORD}';
            document.querySelector('#login-form').requestSubmit();"""
        )
        await page.wait_for("sessionStorage.getItem('token')")
        await page.eval("location.hash = '#/review'")
        await page.wait_for("!!document.querySelector('#queue li a')")
        await page.eval("document.querySelector('#queue li a').click()")
        await page.wait_for("!!document.querySelector('.review-form')")
        assert await page.eval("document.querySelector('tr.failing').dataset.field") == "100025"
        # The uncertain box's crop sits in the failing field's row, outlined; the photo beside.
        assert await page.eval(
            "[...document.querySelectorAll('img.crop.uncertain')]"
            ".map(i => i.closest('tr').dataset.field)"
        ) == ["100025"]
        await page.wait_for("document.querySelector('img.crop.uncertain').naturalWidth === 40")
        await page.wait_for("document.querySelector('.photo img').naturalWidth === 400")
        await page.eval(
            """const form = document.querySelector('.review-form');
            form.querySelector('input[name="100025"]').value = '62';
            form.elements.reason.value = 'X terbaca 5 / X read as 5';
            form.requestSubmit();"""
        )
        status = await page.wait_for("document.querySelector('.review-status').textContent")
        assert "Tersimpan" in status and "corrected" in status
    async with httpx.AsyncClient(base_url=base) as client:
        totals = (await client.get("/api/v1/regions/17.08/totals")).json()["totals"]
    assert totals["100025"] == 30 + 62
