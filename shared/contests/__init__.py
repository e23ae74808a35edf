"""Contest definitions: the five races, their candidates, parties, dapil and form fields.

Public API::

    from shared.contests import Contest, definition
    d = definition(Contest.PPWP, "1708042001001")
    d.fields        # ordered FieldDef(key, label_id, label_en, kind, page, column, row, boxes)
    d.pages         # number of printed pages
    d.dapil         # e.g. "DPR-17-1"
    d.candidates, d.parties, d.vote_keys

Values are plain ``dict[str, int]`` keyed by ``FieldDef.key`` everywhere in the project.
"""

from shared.contests.candidates import Candidate
from shared.contests.codes import Contest
from shared.contests.dapil import InvalidTpsCode, dapil_code
from shared.contests.definition import (
    BOXES,
    ContestDefinition,
    FieldDef,
    PartyList,
    Section,
    definition,
)
from shared.contests.parties import PARTIES, PASLON, Party, Paslon

__all__ = [
    "BOXES",
    "PARTIES",
    "PASLON",
    "Candidate",
    "Contest",
    "ContestDefinition",
    "FieldDef",
    "InvalidTpsCode",
    "Party",
    "PartyList",
    "Paslon",
    "Section",
    "dapil_code",
    "definition",
]
