"""Words and bug types for the slices of any slicer (what ``slicelens slices`` shows).

* :func:`describe_slices` - when the run has an attribute matrix (``slicelens
  attributes assign``), each slice's description becomes the attribute values enriched
  in it against the rest of its class (:mod:`slicelens.attributes.enrichment`, Fisher
  exact test with Benjamini-Hochberg correction), e.g. "small digits on brick
  background"; the tests are kept in ``evidence["enrichment"]`` and the chosen values in
  ``evidence["conditions"]``. The confusion cell stays in ``metrics["confusion_text"]``
  (the second line wherever a description is shown). A slice with no enriched value keeps
  its confusion cell as description and says so in ``evidence["enrichment_note"]``.
* :func:`type_slices` - a bug type with evidence for every slice that has none, from the
  slice's neighbourhood in the attribution space
  (:func:`slicelens.slicing.evidence.attach_neighbour_bug_types`).

Slices of the attribute slicer (HiBug's combinations) already are rules over attribute
values and keep their own description and bug type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from slicelens.store.run import Run

#: enriched values kept in the evidence per slice
KEEP_TESTS = 6


def has_attributes(run: Run) -> bool:
    return run.has_artifact("attribute_matrix")


def describe_slices(run: Run, slice_set, max_attributes: int = 3) -> int:
    """Describe every slice (not from the attribute slicer) in words, in place.

    Returns the number of slices that got words (0 without an attribute matrix).
    """
    if slice_set.slicer == "attributes" or not has_attributes(run):
        return 0
    from slicelens.attributes.enrichment import enriched_values, top_conditions
    from slicelens.attributes.matrix import AttributeMatrix
    from slicelens.attributes.runio import load_spec
    from slicelens.slicing.slicer_attributes import describe

    matrix, spec = AttributeMatrix.load(run.path), load_spec(run.path)
    samples = run.samples
    fit = samples[samples["split"].to_numpy() == slice_set.split]
    ids = fit["id"].to_numpy(str)
    codes, _ = matrix.codes(ids)
    labels = fit["label"].to_numpy(np.int64)
    pos = {sid: i for i, sid in enumerate(ids)}
    n_words = 0
    for s in slice_set.slices:
        idx = np.array([pos[m] for m in s.members if m in pos], np.int64)
        in_slice = np.zeros(len(ids), bool)
        in_slice[idx] = True
        lab = labels[idx][labels[idx] >= 0]
        if len(lab) == 0:
            continue
        cls = int(np.bincount(lab).argmax())
        tests = enriched_values(codes, in_slice, labels == cls, matrix.attributes, matrix.values)
        cond = top_conditions(tests, max_attributes)
        s.evidence["enrichment"] = [t for t in tests if t["enriched"]][:KEEP_TESTS]
        s.evidence["enrichment_class"] = run.classes[cls]
        if cond:
            s.evidence["conditions"] = cond
            s.description = describe(cond, spec)
            n_words += 1
        else:
            s.evidence["conditions"] = {}
            s.description = s.metrics.get("confusion_text", s.description)
            s.evidence["enrichment_note"] = (f"no attribute value is enriched against the rest "
                                             f"of class {run.classes[cls]} (of {len(tests)} tested)")
    return n_words


def type_slices(run: Run, slice_set, assigned: np.ndarray) -> None:
    """A bug type with neighbourhood evidence for every slice without one, in place.

    ``assigned``: slice index of every row of ``run.samples`` (-1 = none).
    """
    from slicelens.slicing.evidence import attach_neighbour_bug_types
    from slicelens.slicing.neighbours import run_context

    if slice_set.slicer == "attributes":
        return
    samples = run.samples
    rows = np.flatnonzero(samples["split"].to_numpy() == slice_set.split)
    # F_W where the run has it; a run made from predictions has only its features
    array = "fw" if "fw" in run.stored_arrays else "features"
    if array not in run.stored_arrays:
        return
    ctx, nb = run_context(run, rows, array=array)
    attach_neighbour_bug_types(slice_set.slices, samples, rows, np.asarray(assigned)[rows], ctx,
                               nb, run.classes, overwrite=False)
