"""HiBug's attribute loop on a run: propose, assign, find bug slices (what the CLI calls).

Files under the run directory::

    attributes/spec.json          the attribute list A with values V(a) (user-editable)
    attributes/matrix.parquet     X_A: id, attribute, value, score (one row per assignment)
    attributes/values.json        value order per attribute
    attributes/meta.json          which spec and backend made the matrix (cache key)
    attributes/imagenet_*.npy     cached ImageNet probabilities (imagenet backend)
    slices/attributes.json|.npz   the bug slices (via ``find_slices``)
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.attributes.accuracy import value_accuracy
from slicelens.attributes.base import ASSIGNERS, AttributeSpec, get_backend
from slicelens.attributes.matrix import AttributeMatrix
from slicelens.attributes.runio import (  # noqa: F401 - spec_path re-exported
    load_spec,
    save_spec,
    spec_path,
)
from slicelens.errors import DataError

if TYPE_CHECKING:
    from slicelens.store.run import Run

DEFAULT_BACKEND = "imagenet"  # for attributes that name no backend


def edit_spec(run: Run, path) -> AttributeSpec:
    """Replace the run's spec by a user-edited YAML / JSON file (validated first)."""
    spec = AttributeSpec.load(path)
    spec.source = "edited"
    save_spec(run, spec)
    return spec


def assign_attributes(run: Run, backend: str = "default", spec: AttributeSpec | None = None, *,
                      dataset=None, backend_params: dict | None = None,
                      value_params: dict | None = None, force: bool = False) -> AttributeMatrix:
    """Fill the attribute matrix ``X_A`` of ``run`` (cached in the run).

    Parameters
    ----------
    run : Run
    backend : str
        ``"default"``: each attribute uses its own ``backend`` (``imagenet`` when it names
        none); any ``ASSIGNERS`` key forces that backend for every attribute.
    spec : AttributeSpec, optional
        Default: the spec stored with the run, else the built-in attributes.
    dataset : ImageDataset, optional
        Default: ``run.dataset()`` (pass it for runs made from in-memory arrays).
    backend_params : dict, optional
        Parameters of the backend(s), e.g. ``{"image_size": 64}``; each backend gets those
        it declares, and one that no backend of the plan declares is an error.
    value_params : dict, optional
        Parameters of :func:`slicelens.attributes.values.propose_values`, used for
        attributes of zero-shot backends that have no values yet.
    force : bool
        Recompute even when the stored matrix was made by the same spec and backend.

    Returns
    -------
    AttributeMatrix
        Also saved to ``<run>/attributes/matrix.parquet``, with the spec it used; the
        run's stored slice sets are described again from it
        (:func:`slicelens.pipeline.slices.redescribe_stored`).
    """
    from slicelens.attributes.proposal import propose_attributes
    from slicelens.attributes.values import NEEDS_VALUES, propose_values

    spec = spec or load_spec(run.path) or propose_attributes("builtin")
    key = _cache_key(spec, backend, backend_params)
    meta = run.artifact_path("attribute_meta")
    if not force and meta.exists() and json.loads(meta.read_text()).get("key") == key:
        return AttributeMatrix.load(run.path)
    dataset = dataset if dataset is not None else run.dataset()
    plan = _backend_plan(spec, backend)
    if any(b in NEEDS_VALUES and not a.values for a, b in plan):
        spec = propose_values(run, spec, dataset, **(value_params or {}))
        plan = _backend_plan(spec, backend)
    rows = np.arange(len(run.samples))
    parts = []
    for name, params in _params_per_backend(plan, backend_params or {}).items():
        assigner = get_backend(ASSIGNERS, name, **params)
        parts.append(assigner.assign(run, [a for a, b in plan if b == name], dataset, rows))
    matrix = AttributeMatrix.concat(parts)
    matrix.save(run.path)
    save_spec(run, spec)
    from slicelens.store.atomic import write_json

    write_json(meta, {"key": _cache_key(spec, backend, backend_params), "backend": backend})
    from slicelens.pipeline.slices import redescribe_stored

    redescribe_stored(run)  # stored slices get words from the new matrix
    return matrix


def name_clusters(run: Run, names) -> AttributeMatrix:
    """Name the clusters of the ``clusters`` backend once each and re-describe the slices.

    Parameters
    ----------
    run : Run
        With an attribute matrix that has cluster attributes (:func:`assign_attributes`).
    names : dict or path
        ``{attribute: {cluster key: name}}`` or a YAML / JSON naming file of that shape
        (:func:`slicelens.attributes.cluster_names.write_naming_file` writes a template).

    Returns
    -------
    AttributeMatrix, stored; later names of the same cluster replace earlier ones.
    """
    from slicelens.attributes.cluster_names import read_naming_file, rename_matrix
    from slicelens.pipeline.slices import redescribe_stored

    if not isinstance(names, dict):
        names = read_naming_file(names)
    matrix = rename_matrix(run.path, names)
    redescribe_stored(run)
    return matrix


def _backend_plan(spec: AttributeSpec, backend: str) -> list[tuple]:
    plan = []
    for a in spec.attributes:
        name = (a.backend or DEFAULT_BACKEND) if backend == "default" else backend
        if name not in ASSIGNERS:
            get_backend(ASSIGNERS, name)  # raises, listing the known backends
        plan.append((a, name))
    return plan


def _params_per_backend(plan: list[tuple], params: dict) -> dict[str, dict]:
    """Backend name -> the ``params`` its ``Params`` declare (the CLI's ``--image-size`` is
    meant for the image backends of a mixed plan); a parameter none of them declares is
    refused, naming it and the known ones."""
    from slicelens.params import refuse_unknown
    from slicelens.registry import param_schema

    names = list(dict.fromkeys(b for _, b in plan))
    known = {n: {p["name"] for p in param_schema(ASSIGNERS[n])} for n in names}
    if names:
        refuse_unknown(set().union(*known.values()), params,
                       f"the attribute assigners {', '.join(map(repr, names))}")
    return {n: {k: v for k, v in params.items() if k in known[n]} for n in names}


def _cache_key(spec: AttributeSpec, backend: str, params) -> str:
    blob = json.dumps([spec.to_json(), backend, params or {}], sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()


def find_attribute_bugs(run: Run, params: dict | None = None, split: str = "val"):
    """Fit the ``attributes`` slicer (bug slices with types), assign all splits, save.

    The attribute matrix must exist (:func:`assign_attributes`).

    Returns
    -------
    SliceSet
    """
    from slicelens.pipeline.slices import find_slices

    AttributeMatrix.load(run.path)  # a clear error when attributes were never assigned
    return find_slices(run, "attributes", params, split)


def bug_rows(slice_set, top: int | None = None) -> list[dict]:
    """One printable row per bug slice: words, accuracy, size, type, evidence."""
    from slicelens.slicing.bugtype import TYPE_WORDS

    rows = []
    for s in slice_set.slices[:top]:
        m = s.metrics
        rows.append({"slice": s.id,
                     "bug": f"{s.description}: {m['accuracy']:.0%} accuracy, "
                            f"n={m['n_labeled']}, {TYPE_WORDS[s.bug_type]}",
                     "acc_range": f"{m['acc_low']:.2f}-{m['acc_high']:.2f}",
                     "evidence": s.evidence.get("explanation", "")})
    return rows


def histograms(run: Run, split: str | None = None) -> dict[str, list[dict]]:
    """Per attribute, the count and mean score of each value (HiBug App. 7.2) and the
    model's accuracy on the labelled samples with that value, with its Wilson 95% interval
    (:func:`slicelens.attributes.accuracy.value_accuracy`)."""
    matrix = AttributeMatrix.load(run.path)
    s = run.samples
    ids = s["id"].to_numpy(str)
    if split:
        ids = ids[s["split"].to_numpy() == split]
        if len(ids) == 0:
            raise DataError(f"no samples in split {split!r}", field="split")
    wide = matrix.wide(ids)
    correct = _correct_of(run, wide["id"].to_numpy(str))
    out = {}
    for a in matrix.attributes:
        bars = matrix.histogram(a, ids)
        acc = value_accuracy(wide[a].to_numpy(object), correct, list(bars["value"]))
        out[a] = bars.merge(acc, on="value", how="left").to_dict("records")
    return out


def overall_accuracy(run: Run, split: str | None = None) -> float | None:
    """Accuracy of the run on the labelled samples of ``split`` (None: no labels)."""
    s = run.samples
    keep = (s["label"].to_numpy() >= 0) & (s["split"].to_numpy() == split if split else True)
    return float(s["correct"].to_numpy(bool, na_value=False)[keep].mean()) if keep.any() else None


def _correct_of(run: Run, ids: np.ndarray) -> np.ndarray:
    """1.0 / 0.0 / NaN (unlabelled or unknown id) for each of ``ids``."""
    s = run.samples
    right = np.where(s["label"].to_numpy() >= 0, s["correct"].to_numpy(float, na_value=np.nan), np.nan)
    return pd.Series(right, index=s["id"].astype(str)).reindex(ids).to_numpy(float)
