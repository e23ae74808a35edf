"""The ingest app harness (`ingest` on both backends) for every integration folder."""

from tests.integration.ingest.conftest import ingest, ingest_settings

__all__ = ["ingest", "ingest_settings"]
