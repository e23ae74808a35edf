"""How well and how fast the OCR reader reads generated phone photos of EVALUATION-side digits.

    python -m benchmarks.ocr [--pages 1000] [--difficulty typical|hard|clean]

Every page is a fresh photo from `shared.forms.generate` with `side="eval"`: MNIST digits the
classifier never trained on. Besides the normal pages, a share of the forms is deliberately
inconsistent (an arithmetic slip on the photographed page) and a share of the photos is bad
(blurred, dark, cut, wrong page, another TPS, a screen): none of those may be accepted.

Figures:
- digit_accuracy: the classifier alone, box by box, on boxes holding a digit (before any
  arithmetic); symbol_accuracy adds X and blank boxes.
- field_accuracy: numbers read right after the form decoder, over located normal pages.
- auto_accept_rate: normal pages accepted without a person.
- silent_errors: numbers on automatically accepted pages that differ from the truth.
- ms_per_page: median CPU time of `read_page` on one core, JPEG decoding included;
  decode_ms_per_page: median CPU time of only `cv2.imdecode(IMREAD_COLOR)` of the same JPEGs;
  ratio = ms_per_page / decode_ms_per_page.
- review_rules: the normal pages sent to a person, by the rules that flagged them; and how many
  of those had a box misread (reviewed_with_a_misread_box) or every box right.
- hands: the digit boxes grouped by the handwriting sample that wrote them (each evaluation-side
  sample is written ~15 times in a 1,000-page run): how much of the misreading, and of the
  pages sent to a person, the few samples misread in most of their appearances account for
  (`benchmarks/hand_errors.py`; --hands-png draws them). Empty for photos cached before the
  generator recorded hands.
- tesseract_*: Tesseract alone (single character, digits and X) on the same crops of the first
  --tesseract-pages pages.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.hand_errors import HandErrors, box_calls
from services.ocr.reader.boxes import normalise
from services.ocr.reader.classifier import META_PATH, MODEL_PATH, load_folder
from services.ocr.reader.page import read_page
from services.ocr.reader.result import Claim, PageReading
from services.ocr.reader.symbols import CLASSES, parse
from shared.consistency import check
from shared.contests import Contest, definition
from shared.forms.generate import generate_photo
from shared.forms.photo import BAD_KINDS
from shared.forms.truth import make_truth, rng_for

TPS_CODES = ("1708042001001", "1708042001002", "1708012003004", "1708072010007")
SYMBOL_INDEX = {s: i for i, s in enumerate(CLASSES)}


def page_plan(i: int, seed: int, inconsistent_share: float, bad_share: float) -> dict[str, Any]:
    rng = rng_for("ocr-bench", seed, i)
    contest = list(Contest)[int(rng.integers(len(Contest)))]
    tps = TPS_CODES[int(rng.integers(len(TPS_CODES)))]
    pages = definition(contest, tps).pages
    page = 1 if rng.random() < 0.33 else int(rng.integers(1, pages + 1))
    r = rng.random()
    kind = (
        "bad"
        if r < bad_share
        else "inconsistent"
        if r < bad_share + inconsistent_share
        else "normal"
    )
    bad = str(rng.choice(BAD_KINDS)) if kind == "bad" else None
    if bad == "wrong_page" and pages < 2:
        bad = "blurred"
    return {"contest": contest.value, "tps": tps, "page": page, "kind": kind, "bad": bad}


def _inconsistent_truth(plan: dict[str, Any], seed: int) -> Any:
    """A truth whose slip lands on the photographed page (tries a few rules and seeds)."""
    defn = definition(plan["contest"], plan["tps"])
    keys = {f.key for f in defn.page_fields(plan["page"])}
    for attempt in range(40):
        truth = make_truth(plan["contest"], plan["tps"], seed + attempt, inconsistent=True)
        page_values = {k: v for k, v in truth.values.items() if k in keys}
        if check(page_values, defn, truth.dpt):
            return truth
    return None


class Tesseract:
    """Tesseract alone, one box at a time (PSM 10: a single character), digits and X only."""

    def __init__(self) -> None:
        import tesserocr

        from services.ocr.reader.identity import TESSDATA

        self.api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang="eng", psm=tesserocr.PSM.SINGLE_CHAR)
        self.api.SetVariable("tessedit_char_whitelist", "0123456789X")

    def symbol(self, crop: npt.NDArray[np.uint8]) -> str:
        from PIL import Image

        ink = normalise(crop)
        img = np.asarray(255 - ink * 255, dtype=np.uint8)
        big = cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        framed = cv2.copyMakeBorder(big, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
        self.api.SetImage(Image.fromarray(framed))
        text = str(self.api.GetUTF8Text()).strip().upper()
        if not text:
            return "" if ink.max() < 0.3 else "?"
        return text[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--difficulty", default="typical", choices=["clean", "typical", "hard"])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--inconsistent-share", type=float, default=0.05)
    parser.add_argument("--bad-share", type=float, default=0.05)
    parser.add_argument("--tesseract-pages", type=int, default=40)
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep the generated photos here (reused)"
    )
    parser.add_argument("--generate-only", action="store_true", help="fill --cache and stop")
    parser.add_argument(
        "--pages-out",
        type=Path,
        default=None,
        help="write one JSON line per normal page (confidence, outcome, wrong numbers): with a "
        "model whose accept_confidence is 0, any threshold can be judged from one run",
    )
    parser.add_argument(
        "--hands-png",
        type=Path,
        default=None,
        help="draw the handwriting samples misread in most of their appearances to this PNG",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"a model folder holding {MODEL_PATH.name} and {META_PATH.name} (default: committed)",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    model = load_folder(args.model)
    tess = Tesseract() if args.tesseract_pages > 0 and not args.generate_only else None

    n_digit = ok_digit = n_sym = ok_sym = 0
    n_field = ok_field = 0
    normal = accepted = 0
    numbers_accepted = silent = silent_pages = 0
    t_digit = t_ok_digit = t_field = t_ok_field = 0
    cpu_ms: list[float] = []
    wall_ms: list[float] = []
    decode_ms: list[float] = []
    outcomes: Counter[str] = Counter()
    confusions: Counter[str] = Counter()
    review_rules: Counter[str] = Counter()
    review_misread: Counter[bool] = Counter()
    special: dict[str, Counter[str]] = {"bad": Counter(), "inconsistent": Counter()}
    missed: list[dict[str, Any]] = []
    per_page: list[dict[str, Any]] = []
    hands = HandErrors()
    started = time.perf_counter()
    for i in range(args.pages):
        plan = page_plan(i, args.seed, args.inconsistent_share, args.bad_share)
        truth = None
        if plan["kind"] == "inconsistent":
            truth = _inconsistent_truth(plan, args.seed * 10_000 + i * 50)
            if truth is None:
                plan["kind"] = "normal"
        if truth is None:
            truth = make_truth(plan["contest"], plan["tps"], args.seed * 10_000 + i)
        jpeg, gt = _photo(args, i, plan, truth)
        if args.generate_only:
            continue
        # Judge by what was photographed (the cache may predate a change of the generator).
        plan["bad"] = gt["bad"]
        broken = _page_violations(gt, plan)
        plan["kind"] = "bad" if gt["bad"] else "inconsistent" if broken else "normal"
        claim = Claim(plan["tps"], plan["contest"], plan["page"], int(gt["dpt"]))
        c0, w0 = time.process_time(), time.perf_counter()
        reading = read_page(jpeg, claim, model)
        cpu_ms.append((time.process_time() - c0) * 1000)
        wall_ms.append((time.perf_counter() - w0) * 1000)
        c0 = time.process_time()
        cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        decode_ms.append((time.process_time() - c0) * 1000)
        outcomes[reading.outcome] += 1
        if plan["kind"] != "normal":
            label = plan["bad"] or "inconsistent"
            special[plan["kind"]][f"{label}:{reading.outcome}"] += 1
            if reading.outcome == "auto_accepted":
                missed.append({**plan, "index": i})
            continue
        normal += 1
        page_digits, page_ok_digits, page_symbols, page_ok_symbols = _score_boxes(
            reading, gt, confusions
        )
        n_digit += page_digits
        ok_digit += page_ok_digits
        n_sym += page_symbols
        ok_sym += page_ok_symbols
        if reading.fields:
            for key, fr in reading.fields.items():
                n_field += 1
                ok_field += fr.value == gt["values"][key]
        if reading.outcome != "auto_accepted":
            # Why a normal page went to a person: the rules it was flagged by, and whether a
            # box was misread at all (a misread the arithmetic repaired still costs the page).
            rules = sorted({f.rule for f in reading.failing})
            misread = page_ok_symbols < page_symbols
            review_rules["+".join(rules) or "none"] += 1
            review_misread[misread] += 1
        wrong = sum(fr.value != gt["values"][k] for k, fr in reading.fields.items())
        per_page.append(
            {
                "index": i,
                "outcome": reading.outcome,
                "confidence": reading.confidence,
                "wrong": wrong,
                "misread": page_ok_symbols < page_symbols,
                "rules": sorted({f.rule for f in reading.failing}),
            }
        )
        hands.add_page(reading, gt, reading.outcome == "auto_accepted")
        if reading.outcome == "auto_accepted":
            accepted += 1
            numbers_accepted += len(reading.fields)
            silent += wrong
            silent_pages += wrong > 0
            if wrong:
                missed.append({**plan, "index": i, "silent": wrong})
        if tess is not None and i < args.tesseract_pages and reading.crops:
            d, od, f, of = _tesseract(tess, reading, gt)
            t_digit, t_ok_digit, t_field, t_ok_field = (
                t_digit + d,
                t_ok_digit + od,
                t_field + f,
                t_ok_field + of,
            )
        if (i + 1) % 100 == 0:
            print(f"  {i + 1} pages, {time.perf_counter() - started:.0f} s", flush=True)

    if args.pages_out is not None:
        args.pages_out.write_text("".join(json.dumps(row) + "\n" for row in per_page))
    if args.generate_only:
        print(f"{args.pages} photos in {args.cache}")
        return
    ms = statistics.median(cpu_ms)
    dec = statistics.median(decode_ms)
    result = {
        "benchmark": "ocr",
        "difficulty": args.difficulty,
        "pages": args.pages,
        "normal_pages": normal,
        "digit_accuracy": round(ok_digit / max(1, n_digit), 5),
        "digits": n_digit,
        "symbol_accuracy": round(ok_sym / max(1, n_sym), 5),
        "field_accuracy": round(ok_field / max(1, n_field), 5),
        "auto_accept_rate": round(accepted / max(1, normal), 4),
        "silent_errors": silent,
        "silent_error_pages": silent_pages,
        "numbers": n_field,
        "numbers_accepted": numbers_accepted,
        "ms_per_page": round(ms, 1),
        "wall_ms_per_page": round(statistics.median(wall_ms), 1),
        "decode_ms_per_page": round(dec, 1),
        "ratio": round(ms / max(dec, 1e-6), 2),
        "tesseract_digit_accuracy": round(t_ok_digit / max(1, t_digit), 4),
        "tesseract_field_accuracy": round(t_ok_field / max(1, t_field), 4),
        "tesseract_pages": min(args.tesseract_pages, args.pages),
        "digit_confusions": dict(confusions.most_common(10)),
        "review_rules": dict(review_rules.most_common(10)),
        "reviewed_with_a_misread_box": review_misread[True],
        "reviewed_with_every_box_right": review_misread[False],
        "outcomes": dict(outcomes),
        "bad_photos": dict(special["bad"]),
        "inconsistent_forms": dict(special["inconsistent"]),
        "bad_or_inconsistent_accepted": sum(1 for m in missed if "silent" not in m),
        "hands": hands.summary(),
        "model_sha256": model.sha256,
    }
    if args.hands_png is not None:
        hands.draw(args.hands_png)
    for m in missed[:10]:
        print("  accepted wrongly:", m)
    print(json.dumps(result))


def _page_violations(gt: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    """The rules the photographed page's true numbers break (on this page alone)."""
    defn = definition(plan["contest"], plan["tps"])
    keys = {f.key for f in defn.page_fields(plan["page"])}
    values = {k: int(v) for k, v in gt["values"].items() if k in keys}
    return [v.rule for v in check(values, defn, int(gt["dpt"]))]


def _photo(
    args: argparse.Namespace, i: int, plan: dict[str, Any], truth: Any
) -> tuple[bytes, dict[str, Any]]:
    """The page's photo: generated, or read back from --cache (generation costs 2-4x reading)."""
    folder = args.cache / f"{args.difficulty}_{args.seed}" if args.cache else None
    if folder is not None and (folder / f"{i}.json").exists():
        return (folder / f"{i}.jpg").read_bytes(), json.loads((folder / f"{i}.json").read_text())
    jpeg, gt = generate_photo(
        plan["tps"],
        plan["contest"],
        plan["page"],
        truth,
        args.difficulty,
        seed=args.seed * 10_000 + i,
        side="eval",
        bad=plan["bad"],
    )
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.jpg").write_bytes(jpeg)
        (folder / f"{i}.json").write_text(json.dumps(gt))
    return jpeg, gt


def _score_boxes(
    reading: PageReading, gt: dict[str, Any], confusions: Counter[str]
) -> tuple[int, int, int, int]:
    n_digit = ok_digit = n_sym = ok_sym = 0
    for call in box_calls(reading, gt):
        right = call.read == call.truth
        n_sym += 1
        ok_sym += right
        if call.truth not in ("X", ""):
            n_digit += 1
            ok_digit += right
            if not right:
                confusions[f"{call.truth}->{call.read or 'blank'}"] += 1
    return n_digit, ok_digit, n_sym, ok_sym


def _tesseract(
    tess: Tesseract, reading: PageReading, gt: dict[str, Any]
) -> tuple[int, int, int, int]:
    n_digit = ok_digit = n_field = ok_field = 0
    by_field: dict[str, list[str]] = {}
    for (key, box), crop in sorted(reading.crops.items()):
        sym = tess.symbol(crop)
        by_field.setdefault(key, []).append(sym)
        truth = gt["boxes"][key][box]
        if truth not in ("X", ""):
            n_digit += 1
            ok_digit += sym == truth
    for key, syms in by_field.items():
        codes = tuple(SYMBOL_INDEX.get(s, -1) for s in syms)
        value = None if -1 in codes else parse(codes)
        n_field += 1
        ok_field += value == gt["values"][key]
    return n_digit, ok_digit, n_field, ok_field


if __name__ == "__main__":
    main()
