"""AACA on a run: seed images with uncertain saliency, answers in and out, the C / V
summary, region embeddings and concept alignment (``slicelens concepts ...``).

The algorithms live in :mod:`slicelens.concepts`; this module reads the run, the
workspace and files, and writes the output folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from slicelens.concepts.runio import class_of_samples, load_images
from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


def pick_seeds(run: Run, per_class: int = 20, split: str = "val", slice_id: str | None = None,
               slicer: str = "auto", confusion: tuple[str, str] | None = None) -> list[str]:
    """Seed image ids: per class, misclassified first (then by falling loss), from
    ``split``, restricted to a slice's members or a confusion cell (true, predicted)."""
    s = run.samples
    s = s[(s["split"] == split) & (s["label"] >= 0)]
    if s.empty:
        raise SliceLensError(f"run {run.id} has no labelled {split!r} samples to seed from")
    if slice_id is not None:
        from slicelens.slicing.base import SliceSet
        from slicelens.slicing.runio import preferred_slicer

        if slicer == "auto":
            slicer = preferred_slicer(run)
        s = s[s["id"].isin(set(SliceSet.load(run.path, slicer).by_id(slice_id).members))]
    if confusion is not None:
        t, p = (run.classes.index(c) if c in run.classes else -1 for c in confusion)
        if t < 0 or p < 0:
            raise SliceLensError(f"unknown class in confusion cell {confusion}; classes: "
                                 f"{run.classes}")
        s = s[(s["label"] == t) & (s["pred"] == p)]
    s = s.assign(_wrong=~s["correct"].astype(bool)).sort_values(["_wrong", "loss"],
                                                                   ascending=[False, False])
    return [i for _, g in s.groupby("label", sort=True) for i in g["id"].head(per_class)]


@dataclass(frozen=True)
class Seed:
    """One seed image as a person sees it in the concept-annotation view."""

    image_id: str
    label: str
    predicted: str
    correct: bool


def seed_rows(run: Run, per_class: int = 20, split: str = "val") -> list[Seed]:
    """:func:`pick_seeds` with each image's true and predicted class names.

    Examples
    --------
    >>> [s.image_id for s in seed_rows(run, per_class=2)]   # doctest: +SKIP
    ['val/0007.png', 'val/0012.png', 'val/0101.png', 'val/0140.png']
    """
    s = run.samples.set_index("id")
    out = []
    for i in pick_seeds(run, per_class, split):
        r = s.loc[i]
        out.append(Seed(str(i), run.classes[int(r["label"])], run.classes[int(r["pred"])],
                        bool(r["correct"])))
    return out


def _heat(m: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> uint8 RGB (black - red - yellow)."""
    m = np.clip(m, 0, 1)
    return (np.stack([np.minimum(1, 2 * m), np.clip(2 * m - 1, 0, 1), np.zeros_like(m)], -1)
            * 255).astype(np.uint8)


def write_seeds(run: Run, out_dir, ids, sal) -> list[dict]:
    """For every seed: ``<id>.png`` (image | saliency | ambiguous regions outlined), and
    ``seeds.json`` with class, prediction and regions. Returns the seed rows."""
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    imgs = load_images(run, ids)
    rows = run.samples.set_index("id").loc[list(ids)]
    seeds = []
    for i, sid in enumerate(ids):
        heat = _heat(sal.mean[i])
        amb = imgs[i].copy()
        amb[sal.ambiguous[i]] = (0.5 * amb[sal.ambiguous[i]] + [127, 0, 127]).astype(np.uint8)
        name = str(sid).replace("/", "_").replace("\\", "_") + ".png"
        big = np.concatenate([imgs[i], heat, amb], 1)
        Image.fromarray(big).resize((big.shape[1] * 4, big.shape[0] * 4), Image.Resampling.NEAREST).save(out / name)
        r = rows.loc[sid]
        seeds.append({"image_id": str(sid), "class": run.classes[int(r["label"])],
                      "predicted": run.classes[int(r["pred"])], "correct": bool(r["correct"]),
                      "image": name, "saliency": name, "regions": sal.regions(i),
                      "ambiguous_share": float(sal.ambiguous[i].mean())})
    (out / "seeds.json").write_text(json.dumps({"tau": sal.tau, "dropout": sal.dropout_site,
                                                "seeds": seeds}, indent=1))
    return seeds


def import_crowd(workspace: Workspace, run: Run, path) -> int:
    """Store every answer of a crowd CSV (all rows checked first); returns the count."""
    from slicelens.concepts.crowd import read_answers
    from slicelens.concepts.store import save_answer

    labels = class_of_samples(run)
    answers = read_answers(path, labels)
    for a in answers:
        save_answer(workspace, run, a)
    return len(answers)



def make_seeds(run: Run, out_dir, per_class: int = 20, split: str = "val", slice_id=None,
               slicer: str = "auto", confusion=None, **saliency) -> list[dict]:
    """Pick seeds (:func:`pick_seeds`), explain them (IG + MC-dropout variance) and write
    them to ``out_dir`` (:func:`write_seeds`)."""
    from slicelens.concepts.runio import seed_saliency

    ids = pick_seeds(run, per_class, split, slice_id, slicer, confusion)
    if not ids:
        raise SliceLensError("no seed image matches (slice / confusion cell empty?)")
    return write_seeds(run, out_dir, ids, seed_saliency(run, ids, **saliency))


def read_seeds(out_dir) -> list[dict]:
    """Seeds written by :func:`make_seeds` (``<out_dir>/seeds.json``)."""
    path = Path(out_dir) / "seeds.json"
    if not path.exists():
        raise SliceLensError(f"no seeds in {out_dir}: run slicelens concepts seeds first")
    return json.loads(path.read_text())["seeds"]


def export_answers(workspace: Workspace, run: Run, path) -> Path:
    """Every stored answer of ``run`` as a crowd CSV."""
    from slicelens.concepts.crowd import write_answers
    from slicelens.concepts.store import answers

    return write_answers(path, answers(workspace, run))


def alignment_report(base, repaired=None, out_dir=None, top: int = 10,
                     budget: int | None = None) -> dict:
    """Concept distributions of validation, initial training and (with ``repaired``, a
    repair of ``base``: pool-route, generated images or its matched control) augmented
    training, their JSD over all classes and within each class (``per_class``), and the
    Fig. 4 bar chart ``concept_alignment.png`` in ``out_dir``.

    Augmented = the base run's training split less the plan's removals plus what it
    added: pool samples with their revealed labels, or generated images, which are
    tagged from their pixels by the run's own tagger
    (:mod:`slicelens.pipeline.concept_alignment`; ``tagger`` says which).

    With ``repaired``, ``bound`` is the greedy lowest JS(aug || val) that adding
    ``budget`` (default: the repair's ``k``) of the repair's own candidates per class
    could reach (:func:`slicelens.pipeline.concept_bound.repair_bound`; a diagnostic of
    whether a JSD goal is reachable at all, ``{"skipped": why}`` without candidates).
    """
    from slicelens.concepts.alignment import bar_chart
    from slicelens.pipeline.concept_alignment import report_of, tag_sets
    from slicelens.pipeline.concept_bound import repair_bound

    sets = tag_sets(base, repaired)
    rep = report_of(base, sets, top)
    if repaired is not None:
        rep["bound"] = repair_bound(base, repaired, sets, top, budget)
    rep.update(base_run=base.id, repaired_run=None if repaired is None else repaired.id)
    if out_dir is not None:
        rep["chart"] = str(bar_chart(rep, Path(out_dir) / "concept_alignment.png"))
        (Path(out_dir) / "concept_alignment.json").write_text(json.dumps(rep, indent=1))
    return rep
