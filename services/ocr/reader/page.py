"""Read one photo of one page, end to end: `read_page(jpeg, claim, classifier)`.

Order matters for cost and for the KPPS officer: cheap refusals first (decode, quality,
markers), then identity (never read numbers into another TPS's slot), then the boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.ocr.reader import boxes as box_crops
from services.ocr.reader.classifier import Classifier
from services.ocr.reader.decode import decode as decode_form
from services.ocr.reader.identity import read_identity
from services.ocr.reader.locate import Located, locate
from services.ocr.reader.numbers import FieldCandidates, field_candidates
from services.ocr.reader.photo import Gray, check_quality, decode
from services.ocr.reader.reasons import NOT_DECODABLE, TPS_UNREADABLE, wrong_form
from services.ocr.reader.rectify import shrink, warp_region
from services.ocr.reader.refine import field_offset, outside, shifted
from services.ocr.reader.result import Claim, Failing, FieldReading, PageReading
from services.ocr.reader.symbols import CLASSES
from shared.consistency import RULES, bounds, relations
from shared.contests import Contest, definition
from shared.db.tables.readings import ReadingOutcome
from shared.forms.layout import Layout, layout


def _refuse(claim: Claim, outcome: ReadingOutcome, reason: object, **detail: object) -> PageReading:
    from services.ocr.reader.reasons import Reason

    assert isinstance(reason, Reason)
    return PageReading(outcome=outcome.value, claim=claim, reason=reason, detail=dict(detail))


def read_page(jpeg: bytes, claim: Claim, model: Classifier) -> PageReading:
    photo = decode(jpeg)
    if photo is None:
        return _refuse(claim, ReadingOutcome.RETAKE, NOT_DECODABLE)
    quality = check_quality(photo)
    detail: dict[str, object] = {
        "brightness": round(quality.brightness, 1),
        "sharpness": round(quality.sharpness, 1),
    }
    if quality.reason is not None:
        return _refuse(claim, ReadingOutcome.RETAKE, quality.reason, **detail)
    found = locate(photo.gray, claim.tps_code)
    if not isinstance(found, Located):
        return _refuse(claim, ReadingOutcome.RETAKE, found.reason, note=found.detail, **detail)
    detail.update(markers=found.markers, reprojection_mm=round(found.reprojection_mm, 3))
    if found.contest.value != claim.contest:
        reason = wrong_form("contest", found.contest.value, claim.contest)
        return _refuse(claim, ReadingOutcome.WRONG_FORM, reason, **detail)
    if found.page != claim.page:
        reason = wrong_form("page", str(found.page), str(claim.page))
        return _refuse(claim, ReadingOutcome.WRONG_FORM, reason, **detail)
    lay = layout(found.contest, claim.tps_code, found.page)
    printed = read_identity(photo.gray, found.homography, lay)
    failing: list[Failing] = []
    if printed is None:
        failing.append(Failing("", "identity", TPS_UNREADABLE.en, TPS_UNREADABLE.id))
    else:
        detail["identity_source"] = printed.source
        if printed.tps_code != claim.tps_code:
            reason = wrong_form("tps", printed.tps_code, claim.tps_code)
            return _refuse(claim, ReadingOutcome.WRONG_FORM, reason, **detail)
        if printed.contest != claim.contest or printed.page != claim.page:
            reason = wrong_form("page", f"{printed.contest} {printed.page}", str(claim.page))
            return _refuse(claim, ReadingOutcome.WRONG_FORM, reason, **detail)
    reading = _read_boxes(photo.gray, found, lay, claim, model, detail)
    reading.failing[:0] = failing
    if failing:
        reading.outcome = ReadingOutcome.NEEDS_REVIEW.value
    return reading


@dataclass
class BoxCrops:
    keys: list[tuple[str, int]]  # (field, box) in print order
    crops: list[Gray]  # rectified grey crops, CROP_H x CROP_W
    cut: set[str]  # fields with a box outside the photo

    def batch(self) -> npt.NDArray[np.float32]:
        return np.stack([box_crops.normalise(c) for c in self.crops])[:, None].astype(np.float32)


def extract_boxes(gray: Gray, found: Located, lay: Layout) -> BoxCrops:
    """Every box of the page, refined per field and rectified (also the training pipeline)."""
    small, hom = shrink(gray, found.homography, box_crops.SAMPLE_PX_PER_MM)
    sh, sw = small.shape[:2]
    out = BoxCrops([], [], set())
    for f in lay.fields:
        offset = field_offset(small, hom, f)
        for i, rect in enumerate(f.boxes):
            moved = shifted(rect, offset)
            if outside(hom, moved, sw, sh):
                out.cut.add(f.key)
            size = (box_crops.CROP_W, box_crops.CROP_H)
            out.crops.append(warp_region(small, hom, moved, size, box_crops.CROP_MARGIN_MM))
            out.keys.append((f.key, i))
    return out


def _read_boxes(
    gray: Gray,
    found: Located,
    lay: Layout,
    claim: Claim,
    model: Classifier,
    detail: dict[str, object],
) -> PageReading:
    h, w = gray.shape[:2]
    extracted = extract_boxes(gray, found, lay)
    keys, crops, cut = extracted.keys, extracted.crops, extracted.cut
    probs = model.probs(extracted.batch())
    defn = definition(Contest(claim.contest), claim.tps_code)
    top = bounds(defn, claim.dpt)
    per_field: dict[str, FieldCandidates] = {}
    field_probs: dict[str, list[int]] = {}
    for idx, (key, _) in enumerate(keys):
        field_probs.setdefault(key, []).append(idx)
    for key, idxs in field_probs.items():
        per_field[key] = field_candidates(key, probs[idxs], top.get(key))
    page_keys = set(per_field)
    page_rels = [r for r in relations(defn) if all(k in page_keys for k in r.keys)]
    readable = {k: c for k, c in per_field.items() if c.values and k not in cut}
    decoded = decode_form(readable, page_rels) if len(readable) == len(per_field) else None
    reading = PageReading(
        outcome=ReadingOutcome.NEEDS_REVIEW.value,
        claim=claim,
        model_sha256=model.sha256,
        detail={**detail, "photo_px": [w, h]},
    )
    chosen: dict[str, int | None] = {}
    if decoded is not None and decoded.values is not None:
        chosen.update(decoded.values)
        reading.confidence = decoded.confidence
        reading.detail["nodes"] = decoded.nodes
    else:
        chosen.update({k: c.best for k, c in per_field.items()})
        chosen.update({k: None for k in cut})
        reading.failing.extend(_rule_failures(chosen, defn, claim.dpt, page_keys))
    hard: list[Failing] = []
    doubtful: list[Failing] = []
    for idx, key in enumerate(keys):
        reading.crops[key] = crops[idx]
        reading.box_probs[key] = probs[idx]
    for key, cands in per_field.items():
        value = chosen.get(key)
        p = dict(zip(cands.values, cands.probs, strict=True)).get(value, 0.0) if value else 0.0
        if value == 0:
            p = dict(zip(cands.values, cands.probs, strict=True)).get(0, 0.0)
        box_list = []
        for idx in field_probs[key]:
            c = int(np.argmax(probs[idx]))
            box_list.append({"symbol": CLASSES[c], "prob": round(float(probs[idx][c]), 6),
                             "crop_key": None})
        fr = FieldReading(key, value, p, list(zip(cands.values, cands.probs, strict=True))[:4],
                          box_list)
        reading.fields[key] = fr
        fail = _field_failure(fr, cands, key in cut, model.field_ok)
        if fail is not None:
            fr.ok = False
            (hard if fail.rule in ("outside", "unreadable") else doubtful).append(fail)
    reading.failing.extend(hard)
    accepted = (
        decoded is not None
        and decoded.values is not None
        and decoded.complete
        and not reading.failing
        and decoded.confidence >= model.accept_confidence
    )
    if accepted:
        reading.outcome = ReadingOutcome.AUTO_ACCEPTED.value
        for fr in reading.fields.values():
            fr.ok = True
        return reading
    reading.failing.extend(doubtful)
    for f in reading.failing:
        if f.field in reading.fields:
            reading.fields[f.field].ok = False
    if not reading.failing and decoded is not None:
        reading.failing.append(
            Failing(
                "", "confidence",
                f"page confidence {decoded.confidence:.4f} is below "
                f"{model.accept_confidence}; confirm the numbers",
                f"keyakinan halaman {decoded.confidence:.4f} di bawah "
                f"{model.accept_confidence}; periksa angka-angkanya",
            )
        )
    return reading


def _field_failure(
    fr: FieldReading, cands: FieldCandidates, cut: bool, field_ok: float
) -> Failing | None:
    if cut:
        return Failing(fr.key, "outside",
                       "part of this field is outside the photo",
                       "sebagian isian ini berada di luar foto")
    if fr.value is None:
        return Failing(fr.key, "unreadable",
                       "the boxes do not spell a number (e.g. an X after a digit)",
                       "kotak tidak membentuk angka (misalnya X setelah angka)")
    if cands.best is not None and fr.value != cands.best:
        return Failing(
            fr.key, "arithmetic",
            f"read as {cands.best}; the form's arithmetic says {fr.value}",
            f"terbaca {cands.best}; hitungan formulir menunjukkan {fr.value}",
        )
    if fr.confidence < field_ok:
        alt = ", ".join(f"{v} ({p:.2f})" for v, p in fr.candidates[1:3])
        return Failing(
            fr.key, "confidence",
            f"read as {fr.value} with confidence {fr.confidence:.3f}; also possible: {alt}",
            f"terbaca {fr.value} dengan keyakinan {fr.confidence:.3f}; kemungkinan lain: {alt}",
        )
    return None


def _rule_failures(
    values: dict[str, int | None], defn: object, dpt: int | None, page_keys: set[str]
) -> list[Failing]:
    from shared.consistency import check
    from shared.contests import ContestDefinition

    assert isinstance(defn, ContestDefinition)
    known = {k: v for k, v in values.items() if v is not None and k in page_keys}
    out: list[Failing] = []
    for violation in check(known, defn, dpt):
        for key in violation.fields:
            if key in page_keys:
                out.append(Failing(key, violation.rule, violation.message_en, violation.message_id))
    if not out:
        rule = RULES["R3"]
        out.append(Failing("", "search", "no consistent reading among the candidates; "
                           + rule.text_en, "tidak ada pembacaan yang konsisten; " + rule.text_id))
    return out
