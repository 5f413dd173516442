"""Assemble what the routes return from library results (no computation of our own).

The slice table joins three sources: the stored slice set (metrics, bug type,
description: ``slicelens.slicing``), the human marks (``AnnotationStore``) and the
propagated spuriousness (``slicelens.feedback.propagation.spuriousness``).
"""

from __future__ import annotations

import math

import numpy as np

from slicelens.server.schemas import AnnotationOut, Cell, LabelCheck, SliceRow, SliceTable
from slicelens.server.state import AppState, RunData, SliceSetData
from slicelens.slicing.base import Slice


def annotation_out(a, resolved=None) -> AnnotationOut:
    """The API form of a mark; with its ``ResolvedMark``, where it stands now."""
    extra = {} if resolved is None else {"slice_now": resolved.slice_id,
                                         "anchor": resolved.state}
    return AnnotationOut.of(a, **extra)


def slice_marks(state: AppState, rd: RunData, slicer: str) -> dict:
    """The mark in force per current slice id (``slicelens.feedback.slice_marks``, on
    the cached slice set): marks follow their images when slices are recomputed."""
    from slicelens.feedback.annotations import marks_in_force

    return marks_in_force(state.workspace, rd.run, state.slice_set(rd.run.id, slicer).slice_set)


def spuriousness_scores(state: AppState, rd: RunData, ssd: SliceSetData,
                        marks: dict) -> tuple[str, dict, bool]:
    """Spuriousness per slice id: ``(note, {slice_id: (score or None, source)}, pending)``.

    Calls ``slicelens.feedback.propagation.spuriousness`` (AttributionScanner Sec. III-E
    2, label spreading, App. A-IV) in the state's propagation thread, cached until the
    slice set or a mark changes. The request that starts a propagation waits up to
    ``PROPAGATION_WAIT`` seconds (enough for the demo's thousands of samples); on large
    runs it and later requests get the previous scores with ``pending=True`` until the
    new ones are ready, so that no request blocks for the minutes a 100k-sample
    propagation takes.
    """
    from concurrent.futures import TimeoutError as Pending

    key = (rd.run.id, ssd.slice_set.slicer, ssd.mtime,
           tuple(sorted((sid, a.id, a.updated_at, a.label) for sid, a in marks.items())))
    with state.lock:
        hit = state.spuriousness.get(key)
        future = state.propagating.get(key)
        started = future is None and hit is None
        if started:
            future = state.propagating[key] = state.propagation.submit(
                _propagate, state, rd, ssd, marks, key)
    if hit is not None:
        return (*hit, False)
    assert future is not None  # running, or just started
    try:
        note, scores = future.result(timeout=PROPAGATION_WAIT if started else 0)
    except Pending:
        note, scores = state.last_spuriousness.get(key[:2], ("", {}))
        return f"propagating the marks… (showing the previous scores) {note}".strip(), scores, True
    return note, scores, False


PROPAGATION_WAIT = 2.0


def _propagate(state: AppState, rd: RunData, ssd: SliceSetData, marks: dict, key: tuple):
    from slicelens.errors import SliceLensError
    from slicelens.feedback.propagation import spuriousness

    try:
        df = spuriousness(rd.run, ssd.slice_set, marks)
        scores = {str(r.slice_id): (None if r.spuriousness != r.spuriousness
                                    else float(r.spuriousness), str(r.source))
                  for r in df.itertuples(index=False)}
        hit = (str(df.attrs.get("note", "")), scores)
    except SliceLensError as e:  # e.g. a slice set without a 2-D layout
        hit = (f"not available: {e}", {})
    with state.lock:
        for old in [k for k in state.spuriousness if k[:2] == key[:2]]:
            del state.spuriousness[old]  # only the marks in force are asked for again
        state.spuriousness[key] = hit
        state.last_spuriousness[key[:2]] = hit
        state.propagating.pop(key, None)
    return hit


def metric(s: Slice, name: str, split: str) -> float | None:
    """A slice metric by name: flat (``metrics[name]``) or per split (``metrics[split][name]``)."""
    v = s.metrics.get(name)
    if v is None and isinstance(s.metrics.get(split), dict):
        v = s.metrics[split].get(name)
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def slice_row(s: Slice, split: str, ann, spur: tuple | None) -> SliceRow:
    return SliceRow(
        id=s.id, size=s.size, accuracy=metric(s, "accuracy", split),
        confidence=metric(s, "confidence", split),
        spuriousness=None if spur is None else spur[0],
        spuriousness_source=None if spur is None else spur[1],
        bug_type=s.bug_type, description=s.description,
        confusion=str(s.metrics.get("confusion_text") or ""),
        bug_evidence=s.evidence.get("explanation"),
        annotation=None if ann is None else annotation_out(ann),
        polygon=s.polygon, metrics=s.metrics, conditions=_conditions(s))


def _conditions(s: Slice) -> dict[str, str] | None:
    """The attribute values that define an attribute bug slice (its evidence), else None."""
    c = (s.evidence or {}).get("conditions")
    return {str(k): str(v) for k, v in c.items()} if isinstance(c, dict) else None


def slice_table(state: AppState, rd: RunData, ssd: SliceSetData) -> SliceTable:
    """The slice table of one slice set with marks and spuriousness joined."""
    ss = ssd.slice_set
    marks = slice_marks(state, rd, ss.slicer)
    status, spur, pending = spuriousness_scores(state, rd, ssd, marks)
    rows = [slice_row(s, ss.split, marks.get(s.id), spur.get(s.id)) for s in ss.slices]
    return SliceTable(run_id=rd.run.id, slicer=ss.slicer, split=ss.split, params=ss.params,
                      n_samples=len(ss.sample_ids), has_layout=ss.layout is not None,
                      spuriousness_status=status, spuriousness_pending=pending,
                      label_check=label_check(state, rd, ss.slicer), slices=rows)


def label_check(state: AppState, rd: RunData, slicer: str) -> LabelCheck | None:
    """The stored training-label check of the run, for the banner above another set."""
    from slicelens.pipeline.slices import LABEL_CHECK_SLICER, suspect_slices

    if slicer == LABEL_CHECK_SLICER or LABEL_CHECK_SLICER not in state.stored_slicers(rd.run.id):
        return None
    lc = state.slice_set(rd.run.id, LABEL_CHECK_SLICER).slice_set
    sus = suspect_slices(lc)
    return LabelCheck(slicer=LABEL_CHECK_SLICER, split=lc.split, groups=len(sus),
                      suspects=sum(s.size for s in sus), checked=sum(s.size for s in lc.slices))


def confusion_cells(rd: RunData, rows: np.ndarray) -> list[Cell]:
    """Members per (label, prediction), most frequent first, named "label: a; prediction:
    b" (App. A-V), from ``slicelens.slicing.metrics.confusion_cells``."""
    from slicelens.slicing.metrics import confusion_cells as cells

    s, cls = rd.samples, rd.classes
    found = cells(s["label"].to_numpy()[rows], s["pred"].to_numpy()[rows], cls,
                  top=len(cls) ** 2)
    return [Cell(label=cls.index(c["label"]), pred=cls.index(c["prediction"]), name=c["text"],
                 n=c["n"]) for c in found]
