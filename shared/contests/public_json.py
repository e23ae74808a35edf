"""The per-TPS shape of Sirekap's public JSON (`domain.md`), which civic tools already read.

The tally serves it (`services/tally/public/sirekap.py`) and the auditor rebuilds it from the
log alone (`clients/auditor/recount_log.py`); both take the field list from here, so the two
can only disagree on the numbers, which is what the auditor checks.
"""

from __future__ import annotations

# The `administrasi` object of a TPS: the C.Hasil's voter and ballot fields, in Sirekap's order.
ADMINISTRASI = (
    "suara_sah",
    "suara_total",
    "suara_tidak_sah",
    "pemilih_dpt_j",
    "pemilih_dpt_l",
    "pemilih_dpt_p",
    "pengguna_dpt_j",
    "pengguna_dpt_l",
    "pengguna_dpt_p",
    "pengguna_dptb_j",
    "pengguna_dptb_l",
    "pengguna_dptb_p",
    "pengguna_non_dpt_j",
    "pengguna_non_dpt_l",
    "pengguna_non_dpt_p",
    "pengguna_total_j",
    "pengguna_total_l",
    "pengguna_total_p",
)
# Field kinds on the administration pages (status_adm); every other kind is a vote (status_suara).
ADMIN_KINDS = frozenset({"voters", "ballots"})
