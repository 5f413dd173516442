"""The reachable-JSD diagnostic of a run (:mod:`slicelens.concepts.bound`) on its
candidate images: the greedy lowest JS(aug || val) that adding ``k`` candidates per class
could reach (``jsd``: a real choice reaches it) and the proven lower bound below which no
choice goes (``lower``, :mod:`slicelens.concepts.bound_lower`), beside the JSD a repair
reached.

The candidates are the pool images a repair chose from: the AACA plan's ``D'_debug``
(``plan.params["candidate_ids"]``, recorded by pool-route repairs), or any ``{id: label}``
(the benchmark also passes the whole revealed pool of each class). They are tagged by the
same tagger as the alignment report (:func:`slicelens.concepts.runio.concept_tags`).
Generated-image repairs keep only the chosen images, so they get no bound (said so).
"""

from __future__ import annotations

from slicelens.errors import SliceLensError

NO_CANDIDATES = ("this repair did not record its candidate images (generated images, or a "
                 "repair made before the candidates were recorded): no reachable-JSD bound")


def reachable_bound(base, candidates: dict[str, int], k: int, top: int = 10,
                    sets: dict | None = None) -> dict:
    """:func:`slicelens.concepts.bound.greedy_bound` of ``candidates`` (``{pool id:
    label}``) at ``k`` per class against ``base``'s validation and initial training
    tags, with the proven lower bound (``lower``, ``fall_at_most``,
    :func:`slicelens.concepts.bound_lower.lower_bound`) overall and per class;
    ``per_class`` keyed by class name."""
    from slicelens.concepts.bound import greedy_bound
    from slicelens.concepts.bound_lower import lower_bound
    from slicelens.concepts.runio import concept_tags
    from slicelens.pipeline.concept_alignment import tag_sets

    sets = sets if sets is not None else tag_sets(base)
    ids, labels = list(candidates), [int(v) for v in candidates.values()]
    tags = concept_tags(base, ids, labels)
    (val_tags, val_labels), (init_tags, init_labels) = sets["val"], sets["init"]
    out = greedy_bound(val_tags, val_labels, init_tags, init_labels, tags, labels, k, top)
    try:
        low = lower_bound(val_tags, val_labels, init_tags, init_labels, tags, labels, k, top)
    except SliceLensError as e:  # the greedy value stands without it
        low = {"jsd": None, "fall_at_most": None, "method": str(e), "per_class": {}}
    out["lower"], out["fall_at_most"] = low["jsd"], low["fall_at_most"]
    out["lower_method"] = low["method"]
    for c, r in out["per_class"].items():
        lc = low["per_class"].get(c, {})
        r["lower"], r["fall_at_most"] = lc.get("jsd"), lc.get("fall_at_most")
    out["per_class"] = {base.classes[c]: r for c, r in out["per_class"].items()}
    out["candidates"] = len(ids)
    return out


def repair_bound(base, repaired, sets: dict | None = None, top: int = 10,
                 budget: int | None = None) -> dict:
    """The bound at ``budget`` (default: the repair's own ``k``) on the repair's own
    candidates, or ``{"skipped": reason}``."""
    params = (repaired.record.get("plan") or {}).get("params") or {}
    cands = params.get("candidate_ids")
    k = budget if budget is not None else params.get("k")
    if not cands or k is None:
        return {"skipped": NO_CANDIDATES}
    try:
        return reachable_bound(base, cands, int(k), top, sets)
    except SliceLensError as e:
        return {"skipped": str(e)}
