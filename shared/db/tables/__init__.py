"""Every table of the project, imported here so Alembic and `create_all` see them all."""

from shared.db.tables.devices import Device, EnrolmentCode
from shared.db.tables.events import AuditEvent, EventHead
from shared.db.tables.jobs import JobStatus, OcrJob
from shared.db.tables.log import LogCheckpoint, LogCosignature, LogLease, LogNode, LogTree
from shared.db.tables.officials import OfficialAccount
from shared.db.tables.readings import Reading, ReadingOutcome
from shared.db.tables.reference import Region, Tps
from shared.db.tables.submissions import Submission, SubmissionStatus, UploadSession
from shared.db.tables.tally import Acceptance, Dispute, TallyTotal, TallyTps

__all__ = [
    "Acceptance",
    "AuditEvent",
    "Device",
    "Dispute",
    "EnrolmentCode",
    "EventHead",
    "JobStatus",
    "LogCheckpoint",
    "LogCosignature",
    "LogLease",
    "LogNode",
    "LogTree",
    "OcrJob",
    "OfficialAccount",
    "Reading",
    "ReadingOutcome",
    "Region",
    "Submission",
    "SubmissionStatus",
    "TallyTotal",
    "TallyTps",
    "Tps",
    "UploadSession",
]
