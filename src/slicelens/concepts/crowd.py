"""Crowd CSV: import answers from any labelling tool, export the task for one.

Answers CSV (one row per answer; header names are case-insensitive)::

    worker_id,image_id,confounded,valid,time
    w01,val/00012.png,brick; brick wall,digit,34.5

``confounded`` and ``valid`` hold concepts separated by ``;`` or ``|``; ``time`` is seconds
(optional column, may be empty); an optional ``class`` column is checked against the
run. Gold CSV (pre-test items): ``image_id,confounded,valid``.

Every bad row is an error naming the file, the row (1-based, header = row 1) and the
field; nothing is imported from a file with an error.
"""

from __future__ import annotations

import csv
from pathlib import Path

from slicelens.concepts.answers import ConceptAnswer, split_concepts
from slicelens.concepts.quality import GoldItem
from slicelens.errors import DataError, SliceLensError

ANSWER_COLUMNS = ("worker_id", "image_id", "confounded", "valid", "time")


def _rows(path) -> tuple[list[str], list[dict]]:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            rows = [{h.strip().lower(): (v or "").strip() for h, v in r.items() if h}
                    for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read CSV: {e}", file=str(path)) from None
    return header, rows


def read_answers(path, labels: dict[str, str]) -> list[ConceptAnswer]:
    """Answers of a crowd CSV; ``labels`` maps image id -> class name (the run's)."""
    header, rows = _rows(path)
    for col in ANSWER_COLUMNS[:4]:
        if col not in header:
            raise DataError(f"missing column {col!r}; need {', '.join(ANSWER_COLUMNS)}",
                            file=str(path), row=1, field=col)
    out = []
    for n, r in enumerate(rows, start=2):
        img = r.get("image_id", "")
        if img not in labels:
            raise DataError(f"unknown image id {img!r}", file=str(path), row=n, field="image_id")
        if r.get("class") and r["class"] != labels[img]:
            raise DataError(f"class {r['class']!r} differs from the run's {labels[img]!r}",
                            file=str(path), row=n, field="class")
        seconds = None
        if r.get("time"):
            try:
                seconds = float(r["time"])
            except ValueError:
                raise DataError(f"time {r['time']!r} is not a number of seconds",
                                file=str(path), row=n, field="time") from None
        try:
            out.append(ConceptAnswer(r.get("worker_id", ""), img, labels[img],
                                     split_concepts(r.get("confounded", "")),
                                     split_concepts(r.get("valid", "")), seconds))
        except DataError as e:
            raise DataError(str(e).split(" (field")[0], file=str(path), row=n,
                            field=e.field) from None
    return out


def read_gold(path) -> dict[str, GoldItem]:
    """Gold (pre-test) items: ``image_id,confounded,valid``."""
    header, rows = _rows(path)
    if "image_id" not in header:
        raise DataError("missing column 'image_id'", file=str(path), row=1, field="image_id")
    out = {}
    for n, r in enumerate(rows, start=2):
        g = GoldItem.of(r.get("image_id", ""), r.get("confounded", ""), r.get("valid", ""))
        if not g.image_id:
            raise DataError("empty image id", file=str(path), row=n, field="image_id")
        if not g.confounded and not g.valid:
            raise DataError("a gold item needs accepted concepts", file=str(path), row=n,
                            field="confounded")
        out[g.image_id] = g
    return out


def write_answers(path, answers: list[ConceptAnswer]) -> Path:
    """Answers as a crowd CSV (the import format, plus ``class``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*ANSWER_COLUMNS, "class"])
        for a in answers:
            w.writerow([a.worker, a.image_id, "; ".join(a.confounded), "; ".join(a.valid),
                        "" if a.seconds is None else a.seconds, a.label])
    return path


def write_task(path, seeds: list[dict]) -> Path:
    """The annotation task for an external tool: one row per seed image with its class,
    image and saliency files, ambiguous regions, and empty answer columns."""
    if not seeds:
        raise SliceLensError("no seed images to export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["image_id", "class", "predicted", "image", "saliency", "ambiguous_regions",
            "question", "confounded", "valid"]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        for s in seeds:
            w.writerow({**s, "ambiguous_regions": len(s.get("regions", [])),
                        "question": "Which concept in the highlighted region misleads the model "
                                    "(confounded)? Which concept shows the class (valid)?",
                        "confounded": "", "valid": ""})
    return path
