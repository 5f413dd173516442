"""The concept alignment of every stored AACA repair of a run, beside its matched control
(AACA "Evaluation of Concept Alignment", Fig. 4; what the web view's Concepts section and
``GET /api/runs/{run}/concepts/alignment`` show), cached in each repair run.

The sets are tagged and compared by :mod:`slicelens.pipeline.concept_alignment`; the
reachable-JSD diagnostic is :func:`slicelens.pipeline.concept_bound.repair_bound`; the
result is the dataclasses of :mod:`slicelens.pipeline.alignment_types`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from slicelens.errors import SliceLensError
from slicelens.pipeline.alignment_types import Alignment, ClassFigures, Figures, RepairAlignment
from slicelens.pipeline.concept_alignment import control_sets, report_of, tag_sets
from slicelens.pipeline.concept_bound import repair_bound
from slicelens.store.atomic import write_json

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

MAKE_ONE = ("slicelens repair --strategy aaca --variant sel --set oracle=<labels.csv> "
            "(after answers: slicelens concepts annotate / import)")


def aaca_repairs(workspace: Workspace, base) -> list:
    """Complete runs of ``workspace`` made by an AACA repair of ``base``, oldest first."""
    return [r for r in workspace.runs() if r.record.get("base_run") == base.id
            and (r.record.get("plan") or {}).get("strategy") == "aaca"]


def repair_alignments(workspace: Workspace, base, top: int = 10) -> Alignment:
    """For every stored AACA repair of ``base``: JS(train || val) in bits over all classes
    and per class, before (initial training), after the repair (augmented training) and
    after its matched control (the control run's own training set, tagged by the same
    tagger as the repair's: :func:`control_sets`), and ``bound`` (a diagnostic:
    :func:`slicelens.pipeline.concept_bound.repair_bound`). Each repair's figures are cached
    in ``<repair run>/concept_alignment.json`` (keyed by the base's attribute matrix,
    ``top`` and the control run).

    Returns an :class:`~slicelens.pipeline.alignment_types.Alignment`; its ``detail`` says
    how to make a repair when there is none."""
    repairs = aaca_repairs(workspace, base)
    return Alignment(base.id, "divergence, bits", [_one(workspace, base, r, top) for r in repairs],
                     None if repairs else f"no AACA repair of {base.id} is stored yet; "
                                          f"make one with: {MAKE_ONE}")


def _one(workspace: Workspace, base, run: Run, top: int) -> RepairAlignment:
    ctrl_id = run.record.control_run
    meta = base.artifact_path("attribute_meta")
    key = [meta.read_text() if meta.exists() else None, top, ctrl_id, base.id, 4]
    cache = run.artifact_path("concept_alignment")
    if cache.exists():
        got = json.loads(cache.read_text())
        if got.get("key") == key:
            return RepairAlignment.from_json(got["result"])
    plan = run.record.get("plan") or {}
    params = plan.get("params") or {}
    res = RepairAlignment(run.id, ctrl_id, params.get("variant"), params.get("source"),
                          plan.get("description", ""))
    try:
        sets = tag_sets(base, run)
        rep = report_of(base, sets, top)
    except SliceLensError as e:
        return dataclasses.replace(res, error=str(e))
    ctrl, ctrl_error = None, None
    if ctrl_id is None:
        ctrl_error = "no matched control stored with this repair"
    else:
        try:
            ctrl = report_of(base, control_sets(sets, workspace.run(ctrl_id)), top)
        except SliceLensError as e:
            ctrl_error = str(e)
    bound = repair_bound(base, run, sets, top)
    bpc = bound.get("per_class", {})
    res = dataclasses.replace(
        res, added=rep["added"], tagger=rep["tagger"], control_error=ctrl_error,
        bound_k=bound.get("k"), bound_method=bound.get("method"),
        bound_skipped=bound.get("skipped"), lower_method=bound.get("lower_method"),
        overall=Figures(**_figures(rep, ctrl), bound=bound.get("jsd"), lower=bound.get("lower")),
        classes=[ClassFigures(class_=c, **_figures(r, None if ctrl is None else
                                                   ctrl["per_class"].get(c, {})),
                              bound=bpc.get(c, {}).get("jsd"), lower=bpc.get(c, {}).get("lower"))
                 for c, r in rep["per_class"].items()])
    write_json(cache, {"key": key, "result": res.to_json()})
    return res


def _figures(rep: dict, ctrl: dict | None) -> dict:
    if "skipped" in rep:
        return {"before": None, "after": None, "control": None, "skipped": rep["skipped"]}
    return {"before": rep.get("jsd_init_val"), "after": rep.get("jsd_aug_val"),
            "control": None if not ctrl else ctrl.get("jsd_aug_val"),
            "fall": rep.get("jsd_fall"), "concepts": len(rep["concepts"])}
