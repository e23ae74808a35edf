"""Read one photo of one page, end to end: `read_page(jpeg, claim, classifier)`.

Order matters for cost and for the KPPS officer: cheap refusals first (decode, quality,
markers), then identity (never read numbers into another TPS's slot), then the boxes, then the
form decoder, which decides between "auto_accepted" and "needs_review".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.ocr.reader import boxes as box_crops
from services.ocr.reader.classifier import Classifier
from services.ocr.reader.decode import Decoded
from services.ocr.reader.decode import decode as decode_form
from services.ocr.reader.identity import PrintedIdentity, read_identity
from services.ocr.reader.locate import Located, locate
from services.ocr.reader.numbers import FieldCandidates, field_candidates
from services.ocr.reader.photo import (
    MIN_SHARPNESS,
    SCREEN_BLUE_RED,
    Gray,
    check_quality,
    decode,
    preview,
    sheet_sharpness,
)
from services.ocr.reader.reasons import (
    NOT_DECODABLE,
    TOO_BLURRED,
    TPS_UNREADABLE,
    Reason,
    wrong_form,
)
from services.ocr.reader.rectify import page_outline, shrink, warp_region
from services.ocr.reader.refine import field_offsets, group_rect, outside, shifted
from services.ocr.reader.result import Claim, Failing, FieldReading, PageReading
from services.ocr.reader.symbols import CLASSES
from shared.consistency import Relation, bounds, check, relations
from shared.contests import ContestDefinition, definition
from shared.db.tables.readings import ReadingOutcome
from shared.forms.layout import Layout, layout

# Failures no confidence can outweigh: the page goes to a person whatever the decoder says.
# Below this a number's reading is "doubtful" for `_jointly_doubtful`. The net's 0.95 and 0.97
# were both wrong on one page of ~11,600 in the five-contest simulation. Measured on the
# typical benchmark, auto-accept falls from 0.54 (no such rule) to 0.39 at 0.98, and to 0.27 at
# 0.99 (the per-field review floor); a product-of-doubts rule (>= 5e-4) fell to 0.23.
JOINT_DOUBT_BELOW = 0.98
HARD_RULES = frozenset({"outside", "unreadable", "identity", "corner", "screen"})


@dataclass
class BoxCrops:
    keys: list[tuple[str, int]]  # (field, box) in print order
    crops: list[Gray]  # rectified grey crops, CROP_H x CROP_W
    cut: set[str]  # fields with a box outside the photo

    def batch(self) -> npt.NDArray[np.float32]:
        return box_crops.ink_batch(np.stack(self.crops))


def _refuse(claim: Claim, outcome: ReadingOutcome, reason: Reason, **detail: object) -> PageReading:
    return PageReading(outcome=outcome.value, claim=claim, reason=reason, detail=dict(detail))


def read_page(jpeg: bytes, claim: Claim, model: Classifier) -> PageReading:
    photo = decode(jpeg)
    if photo is None:
        return _refuse(claim, ReadingOutcome.RETAKE, NOT_DECODABLE)
    view = preview(photo)
    quality = check_quality(photo, view)
    detail: dict[str, object] = {
        "brightness": quality.brightness,
        "sharpness": quality.sharpness,
    }
    if quality.reason is not None:
        return _refuse(claim, ReadingOutcome.RETAKE, quality.reason, **detail)
    found = locate(view, claim.tps_code)
    if not isinstance(found, Located):
        return _refuse(claim, ReadingOutcome.RETAKE, found.reason, note=found.detail, **detail)
    detail.update(markers=found.markers, reprojection_mm=round(found.reprojection_mm, 3))
    if found.contest.value != claim.contest:
        reason = wrong_form("contest", found.contest.value, claim.contest)
        return _refuse(claim, ReadingOutcome.WRONG_FORM, reason, **detail)
    if found.page != claim.page:
        reason = wrong_form("page", str(found.page), str(claim.page))
        return _refuse(claim, ReadingOutcome.WRONG_FORM, reason, **detail)
    sharpness = sheet_sharpness(quality, page_outline(found.homography, view.scale))
    detail["sheet_sharpness"] = sharpness
    if sharpness < MIN_SHARPNESS:
        return _refuse(claim, ReadingOutcome.RETAKE, TOO_BLURRED, **detail)
    lay = layout(found.contest, claim.tps_code, found.page)
    printed = read_identity(photo.gray, found.homography, lay)
    if printed is not None:
        detail["identity_source"] = printed.source
    checked = _check_identity(printed, claim)
    if isinstance(checked, Reason):
        return _refuse(claim, ReadingOutcome.WRONG_FORM, checked, **detail)
    page_failing = checked
    if found.markers < len(lay.markers):
        page_failing.append(_corner_missing(found.markers))
    tint = photo.blue_red
    if tint is not None:
        detail["blue_red"] = round(tint, 3)
        if tint >= SCREEN_BLUE_RED:
            page_failing.append(_screen_suspected(tint))
    extracted = extract_boxes(photo.gray, found, lay)
    probs = model.probs(extracted.batch())
    return judge(claim, extracted, probs, model, page_failing, detail)


def _check_identity(printed: PrintedIdentity | None, claim: Claim) -> Reason | list[Failing]:
    """A wrong-form reason when the QR code names another sheet; else the identity doubts a
    person must clear (nothing readable, or a printed line that disagrees)."""
    if printed is None:
        return [Failing("", "identity", TPS_UNREADABLE.en, TPS_UNREADABLE.id)]
    shown = (printed.tps_code, printed.contest, printed.page)
    if shown == (claim.tps_code, claim.contest, claim.page):
        return []
    if printed.source == "text":
        # Tesseract misreads a digit now and then (0 as 6 on 2 of 9 hard photos): a person
        # compares the printed line instead of the KPPS being told to upload again.
        return [_identity_mismatch(" ".join(map(str, shown)))]
    # The QR code is error-corrected and exact: the sheet is another one.
    if printed.tps_code != claim.tps_code:
        return wrong_form("tps", printed.tps_code, claim.tps_code)
    return wrong_form("page", f"{printed.contest} {printed.page}", str(claim.page))


def extract_boxes(gray: Gray, found: Located, lay: Layout) -> BoxCrops:
    """Every box of the page, refined per field and rectified (also the training pipeline)."""
    small, hom = shrink(gray, found.homography, box_crops.SAMPLE_PX_PER_MM)
    sh, sw = small.shape[:2]
    inv = np.asarray(np.linalg.inv(hom), dtype=np.float64)
    out = BoxCrops([], [], set())
    size = (box_crops.CROP_W, box_crops.CROP_H)
    for f, offset in zip(lay.fields, field_offsets(small, hom, lay.fields), strict=True):
        if outside(inv, shifted(group_rect(f), offset), sw, sh):
            out.cut.add(f.key)
        for i, rect in enumerate(f.boxes):
            moved = shifted(rect, offset)
            out.crops.append(warp_region(small, hom, moved, size, box_crops.CROP_MARGIN_MM))
            out.keys.append((f.key, i))
    return out


def judge(
    claim: Claim,
    extracted: BoxCrops,
    probs: npt.NDArray[np.float32],
    model: Classifier,
    failing: list[Failing],
    detail: dict[str, object],
) -> PageReading:
    """Decode the page's numbers from the box probabilities and decide its outcome."""
    defn = definition(claim.contest, claim.tps_code)
    top = bounds(defn, claim.dpt)
    rows: dict[str, list[int]] = {}
    for idx, (key, _) in enumerate(extracted.keys):
        rows.setdefault(key, []).append(idx)
    cands = {k: field_candidates(k, probs[idxs], top.get(k)) for k, idxs in rows.items()}
    rels = [r for r in relations(defn) if all(k in cands for k in r.keys)]
    readable = all(c.values for c in cands.values()) and not extracted.cut
    decoded = decode_form(cands, rels) if readable else None
    reading = PageReading(
        outcome=ReadingOutcome.NEEDS_REVIEW.value,
        claim=claim,
        model_sha256=model.sha256,
        detail=detail,
    )
    for idx, key_box in enumerate(extracted.keys):
        reading.crops[key_box] = extracted.crops[idx]
        reading.box_probs[key_box] = probs[idx]
    consistent = decoded is not None and decoded.values is not None
    if decoded is not None and decoded.values is not None:
        chosen: dict[str, int | None] = dict(decoded.values)
        reading.confidence = decoded.confidence
        detail["search_nodes"] = decoded.nodes
    else:
        chosen = {k: c.best for k, c in cands.items()}
        failing = failing + _rule_failures(chosen, defn, claim.dpt, set(cands))
    doubtful: list[Failing] = []
    for key, c in cands.items():
        value = None if key in extracted.cut else chosen.get(key)
        fr = _field_reading(key, value, c, [probs[i] for i in rows[key]])
        reading.fields[key] = fr
        problem = _field_failure(fr, c, key in extracted.cut, model.field_ok)
        if problem is not None:
            (failing if problem.rule in HARD_RULES else doubtful).append(problem)
    failing = failing + _jointly_doubtful(reading.fields, rels)
    doubtful = doubtful + _linked_to_overruled(doubtful, rels)
    if _accepts(decoded, failing, model):
        reading.outcome = ReadingOutcome.AUTO_ACCEPTED.value
        return reading
    reading.failing = failing + doubtful
    if consistent and not reading.failing:
        reading.failing.append(_low_confidence(reading.confidence, model.accept_confidence))
    flagged = {f.field for f in reading.failing}
    for key, fr in reading.fields.items():
        fr.ok = key not in flagged
    return reading


def _jointly_doubtful(fields: dict[str, FieldReading], rels: list[Relation]) -> list[Failing]:
    """An equality vouches for one doubtful number when the others in it are sure; with two
    doubtful numbers in one equality, two misreads can keep it true (92/191 read as 93/192 in
    the five-contest simulation, boxes at 0.97 and 0.95, with P = 99 still adding up), and
    only the classifier's calibration would stand between that page and the tally. Such a
    page goes to a person when its doubts can in fact cancel out (`_doubts_can_cancel`)."""
    doubted = {k for k, fr in fields.items() if fr.confidence < JOINT_DOUBT_BELOW}
    out: list[Failing] = []
    for rel in rels:
        both = [k for k in rel.keys if k in doubted]
        if rel.op == "==" and len(both) >= 2 and _doubts_can_cancel(rel, [fields[k] for k in both]):
            names = ", ".join(both)
            out.append(
                Failing(
                    both[0],
                    "joint_doubt",
                    f"{names} are all uncertain and rule {rel.rule} links them; confirm them",
                    f"{names} sama-sama tidak pasti dan terkait aturan {rel.rule}; periksa",
                )
            )
    return out


def _doubts_can_cancel(rel: Relation, doubted: list[FieldReading]) -> bool:
    """Whether two misreads among `doubted` could leave `rel` true: some pair's alternative
    numbers move the two sides by the same amount (93/192 for 92/191: both +1). Two doubts
    that cannot cancel (one field's alternatives +5, the other's -10) would break the equality
    if both were misread, so the decoder's own runner-up already weighs them. Three doubted
    numbers, or a doubt the listed alternatives do not explain, are assumed able to."""
    if len(doubted) > 2:
        return True
    moves: list[set[int]] = []
    for fr in doubted:
        if fr.value is None:
            return True
        alternatives = [(v, p) for v, p in fr.candidates if v != fr.value]
        unexplained = (1.0 - fr.confidence) - sum(p for _, p in alternatives)
        if unexplained > 0.5 * (1.0 - fr.confidence):
            return True
        side = 1 if fr.key in rel.lhs else -1
        moves.append({side * (v - fr.value) for v, _ in alternatives})
    first, second = moves
    return any(-m in second for m in first)


def _linked_to_overruled(doubtful: list[Failing], rels: list[Relation]) -> list[Failing]:
    """When the arithmetic overrules a box reading, the numbers it used are suspects too: a
    confident misread elsewhere in the rule can be what forced the change (L read 93 at 0.997
    for 92 made the decoder turn a right J of 191 into 192). The reviewer is shown them all,
    not told to trust the arithmetic's number."""
    overruled = [f.field for f in doubtful if f.rule == "arithmetic"]
    shown = {f.field for f in doubtful}
    out: list[Failing] = []
    for key in overruled:
        for rel in rels:
            if key not in rel.keys:
                continue
            for other in rel.keys:
                if other not in shown:
                    shown.add(other)
                    out.append(
                        Failing(
                            other,
                            "linked",
                            f"{key} was changed by rule {rel.rule}, which uses {other}; check both",
                            f"{key} diubah oleh aturan {rel.rule} yang memakai {other}; "
                            "periksa keduanya",
                        )
                    )
    return out


def _accepts(decoded: Decoded | None, failing: list[Failing], model: Classifier) -> bool:
    """Every rule holds (the decoder only returns consistent values), nothing is cut or
    unreadable, the search was exhaustive, and the page's confidence clears the threshold
    chosen on training-side data."""
    return (
        decoded is not None
        and decoded.values is not None
        and decoded.complete
        and not failing
        and decoded.confidence >= model.accept_confidence
    )


def _field_reading(
    key: str, value: int | None, cands: FieldCandidates, box_probs: list[npt.NDArray[np.float32]]
) -> FieldReading:
    probs = dict(zip(cands.values, cands.probs, strict=True))
    boxes = []
    for p in box_probs:
        c = int(np.argmax(p))
        boxes.append({"symbol": CLASSES[c], "prob": round(float(p[c]), 6), "crop_key": None})
    return FieldReading(
        key=key,
        value=value,
        confidence=0.0 if value is None else probs.get(value, 0.0),
        candidates=list(probs.items())[:4],
        boxes=boxes,
    )


def _field_failure(
    fr: FieldReading, cands: FieldCandidates, cut: bool, field_ok: float
) -> Failing | None:
    if cut:
        return Failing(
            fr.key,
            "outside",
            "part of this field is outside the photo",
            "sebagian isian ini berada di luar foto",
        )
    if fr.value is None:
        return Failing(
            fr.key,
            "unreadable",
            "the boxes do not spell a number (e.g. an X after a digit)",
            "kotak tidak membentuk angka (misalnya X setelah angka)",
        )
    if cands.best is not None and fr.value != cands.best:
        return Failing(
            fr.key,
            "arithmetic",
            f"read as {cands.best}; the form's arithmetic says {fr.value}",
            f"terbaca {cands.best}; hitungan formulir menunjukkan {fr.value}",
        )
    if fr.confidence < field_ok:
        alt = ", ".join(f"{v} ({p:.2f})" for v, p in fr.candidates[1:3]) or "-"
        return Failing(
            fr.key,
            "confidence",
            f"read as {fr.value} with confidence {fr.confidence:.3f}; also possible: {alt}",
            f"terbaca {fr.value} dengan keyakinan {fr.confidence:.3f}; kemungkinan lain: {alt}",
        )
    return None


def _corner_missing(markers: int) -> Failing:
    """Only the whole sheet is accepted automatically: a cut corner may hide a fold, a covering
    hand or a second sheet, and the generator's "corner_cut" photos must never pass."""
    return Failing(
        "",
        "corner",
        f"only {markers} of the 4 corner markers are in the photo; check the numbers",
        f"hanya {markers} dari 4 penanda sudut terlihat di foto; periksa angka-angkanya",
    )


def _screen_suspected(ratio: float) -> Failing:
    """A photo of a screen shows a form, not the form: the paper itself must be photographed.
    A person looks (a false alarm costs a review, never a wrong number)."""
    return Failing(
        "",
        "screen",
        f"the photo looks like a photo of a screen (blue/red {ratio:.2f}); check the sheet",
        f"foto tampak seperti foto layar (biru/merah {ratio:.2f}); periksa lembar",
    )


def _identity_mismatch(seen: str) -> Failing:
    return Failing(
        "",
        "identity",
        f"the printed identity line reads '{seen}' (QR code unreadable); check the sheet",
        f"baris identitas tercetak terbaca '{seen}' (kode QR tidak terbaca); periksa lembar",
    )


def _low_confidence(confidence: float, threshold: float) -> Failing:
    return Failing(
        "",
        "confidence",
        f"page confidence {confidence:.4f} is below {threshold}; confirm the numbers",
        f"keyakinan halaman {confidence:.4f} di bawah {threshold}; periksa angka-angkanya",
    )


def _rule_failures(
    values: dict[str, int | None], defn: ContestDefinition, dpt: int | None, keys: set[str]
) -> list[Failing]:
    """Why no consistent reading exists: the rules the most probable numbers break."""
    known = {k: v for k, v in values.items() if v is not None and k in keys}
    out = [
        Failing(key, v.rule, v.message_en, v.message_id)
        for v in check(known, defn, dpt)
        for key in v.fields
        if key in keys
    ]
    if not out:  # an unreadable field, or the candidates' search found nothing consistent
        out.append(
            Failing(
                "",
                "search",
                "no reading of the boxes satisfies the form's arithmetic",
                "tidak ada pembacaan kotak yang memenuhi hitungan formulir",
            )
        )
    return out
