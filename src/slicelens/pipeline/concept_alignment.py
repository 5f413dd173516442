"""Concept alignment of a repair, per class, and the concept tagger on generated images
(AACA "Evaluation of Concept Alignment", Fig. 4).

Three training sets are compared with validation over the top validation concepts
(:func:`slicelens.concepts.alignment.alignment`, JS divergence in bits):

- *initial*: the base run's training split;
- *augmented*: the training set of a repair (base training split, less the plan's
  removals, plus the samples it added with their revealed labels, or the images it
  generated with the labels they were generated for);
- the *matched control*'s training set, computed the same way from the control's own plan
  (which changes no data, so it equals the initial set: computed, not assumed).

**Generated images are tagged from their pixels** by the run's own concept tagger: the
attribute spec and backends that made the run's attribute matrix
(``attributes/spec.json``, ``attributes/meta.json``) are run again over the base run's
validation and training images *together with* the generated images, and all three
distributions are read from that one matrix. Assigners that bin a statistic by quantiles
(``stats``) then bin over base + generated images, so the validation and initial tags of
such a report can differ slightly from the stored matrix's; the report says
``tagger: "re-assigned with generated images"``. Attribution maps of the generated images
(the ``stats`` backend's ``attention_size``) come from the run's model with the run's
extraction method; manifest columns (``metadata`` backend) do not exist for generated
images, which get no value for them.
"""

from __future__ import annotations

import json
import tempfile

import numpy as np

from slicelens.errors import SliceLensError

AUTO = "the run's attribute matrix"
RETAGGED = "re-assigned with generated images"


def _labelled(base):
    s = base.samples
    lab = s[s["label"] >= 0]
    return lab[lab["split"] == "val"], lab[lab["split"] == "train"]


def tag_sets(base, repaired=None) -> dict:
    """Tags and labels of validation, initial training and (with ``repaired``) augmented
    training: ``{"val": (tags, labels), "init": ..., "aug": ..., "tagger": str}``."""
    from slicelens.concepts.runio import concept_tags

    val, train = _labelled(base)
    plan = (repaired.record.get("plan") or {}) if repaired is not None else {}
    removed = set(plan.get("remove") or [])
    keep = ~train["id"].astype(str).isin(removed).to_numpy()
    vl, tl = val["label"].to_numpy(int), train["label"].to_numpy(int)
    if plan.get("extra_images"):
        from slicelens.repair.plan import load_extra_images

        images, glab = load_extra_images(plan["extra_images"])
        tv, ti, tg = retag_with_images(base, val["id"].astype(str), train["id"].astype(str),
                                       images, glab)
        aug = ([t for t, k in zip(ti, keep, strict=True) if k] + tg,
               np.concatenate([tl[keep], glab]))
        return {"val": (tv, vl), "init": (ti, tl), "aug": aug, "tagger": RETAGGED,
                "added": len(glab), "train_ids": train["id"].astype(str).to_numpy()}
    tv = concept_tags(base, val["id"].astype(str), vl)
    ti = concept_tags(base, train["id"].astype(str), tl)
    out = {"val": (tv, vl), "init": (ti, tl), "tagger": AUTO, "added": 0,
           "train_ids": train["id"].astype(str).to_numpy()}
    if repaired is not None:
        add = plan.get("add") or {}
        ta = concept_tags(base, list(add), list(add.values()))
        out["aug"] = ([t for t, k in zip(ti, keep, strict=True) if k] + ta,
                      np.concatenate([tl[keep], np.asarray(list(add.values()), int)]))
        out["added"] = len(add)
    return out


def report_of(base, sets: dict, top: int = 10) -> dict:
    """Overall and per-class alignment of tagged sets (:func:`tag_sets`)."""
    from slicelens.concepts.alignment import alignment

    rep = alignment(sets["val"][0], sets["init"][0], sets["aug"][0] if "aug" in sets else None,
                    top)
    rep.update(added=sets["added"], tagger=sets["tagger"],
               per_class=per_class(sets, list(base.classes), top))
    return rep


def control_sets(sets: dict, control) -> dict:
    """``sets`` with ``aug`` = the matched control's training set, from the SAME tags (so
    the control is compared with the tagger its repair was): the initial training split
    less the control plan's removals. A control plan adds no data (it would not be a
    control); one that does is refused."""
    plan = control.record.get("plan") or {}
    if plan.get("add") or plan.get("extra_images"):
        raise SliceLensError(f"run {control.id} adds training data; it is not a matched control")
    removed = set(plan.get("remove") or [])
    keep = [i not in removed for i in sets["train_ids"]]
    tags, labels = sets["init"]
    return {**sets, "aug": ([t for t, k in zip(tags, keep, strict=True) if k],
                            np.asarray(labels)[np.asarray(keep, bool)]), "added": 0}


def per_class(sets: dict, classes: list[str], top: int = 10) -> dict:
    """:func:`~slicelens.concepts.alignment.alignment` within each class (the images of
    that class in every set), ``{class: report}``; a class without tagged validation
    images gets ``{"skipped": reason}``."""
    from slicelens.concepts.alignment import alignment

    out = {}
    for k, cls in enumerate(classes):
        pick = {name: [t for t, lab in zip(*sets[name], strict=True) if lab == k]
                for name in ("val", "init", "aug") if name in sets}
        try:
            out[cls] = alignment(pick["val"], pick["init"], pick.get("aug"), top)
        except SliceLensError as e:
            out[cls] = {"skipped": str(e)}
    return out


def retag_with_images(base, val_ids, train_ids, images: np.ndarray, labels: np.ndarray):
    """Concept tags of the base run's ``val_ids`` and ``train_ids`` and of ``images``
    (uint8 (n, S, S, 3), generated for ``labels``), from ONE assignment by the run's
    attribute spec and backends over all of them (see the module docstring)."""
    import pandas as pd

    from slicelens.attributes.base import ASSIGNERS, get_backend
    from slicelens.attributes.runio import load_spec
    from slicelens.concepts.runio import load_images
    from slicelens.data.arrays import from_arrays
    from slicelens.pipeline.attributes import _backend_plan

    spec = load_spec(base.path)
    meta_path = base.artifact_path("attribute_meta")
    if spec is None or not meta_path.exists():
        raise SliceLensError(f"concept alignment tags images with run {base.id}'s attributes; "
                             "it has none (slicelens attributes assign first)")
    backend = json.loads(meta_path.read_text()).get("backend", "default")
    size = int(base.record["model"]["input_size"])
    val_ids, train_ids = [str(i) for i in val_ids], [str(i) for i in train_ids]
    base_ids = val_ids + train_ids
    if images.ndim != 4 or images.shape[1:3] != (size, size):
        raise SliceLensError(f"generated images have shape {images.shape}; expected "
                             f"(n, {size}, {size}, 3), the model's input size")
    gen_ids = [f"generated/{n}" for n in range(len(images))]
    ds = base.dataset()
    meta = ds.visible_metadata().iloc[ds.index_of(base_ids)].reset_index(drop=True)
    meta = pd.concat([meta, pd.DataFrame(index=range(len(images)))], ignore_index=True)
    blab = base.samples.set_index("id").loc[base_ids, "label"].to_numpy(int)
    combined = from_arrays(np.concatenate([load_images(base, base_ids), images]),
                           np.concatenate([blab, labels]), list(base.classes), splits="train",
                           ids=np.asarray(base_ids + gen_ids), metadata=meta)
    with tempfile.TemporaryDirectory() as tmp:
        view = _RunView(base, combined, base_ids, images, labels, tmp)
        rows = np.arange(len(combined))
        parts = [get_backend(ASSIGNERS, name).assign(view, [a for a, b in plan if b == name],
                                                     combined, rows)
                 for plan in [_backend_plan(spec, backend)]
                 for name in dict.fromkeys(b for _, b in plan)]
    from slicelens.attributes.matrix import AttributeMatrix

    matrix = AttributeMatrix.concat(parts)
    all_labels = np.concatenate([blab, labels])
    codes, _ = matrix.codes(base_ids + gen_ids)
    tags = [[f"{base.classes[int(lab)]}: {matrix.values[a][int(v)]} {a.replace('_', ' ')}"
             for a, v in zip(matrix.attributes, row, strict=True) if v >= 0]
            for row, lab in zip(codes, all_labels, strict=True)]
    nv, nt = len(val_ids), len(train_ids)
    return tags[:nv], tags[nv:nv + nt], tags[nv + nt:]


class _RunView:
    """What an attribute assigner reads of a run (ids, classes, record, attribution
    maps, a folder for caches), over base samples plus generated images. Its samples
    have labels and no predictions, so a ``clusters`` attribute clusters them by label;
    its clusters are fitted afresh over all of them (one assignment, as the module says),
    so their keys are consistent within the view but unnamed."""

    def __init__(self, base, dataset, base_ids, images, labels, folder):
        import pandas as pd

        self.id, self.path, self.classes, self.record = (
            f"{base.id}+generated", folder, list(base.classes), base.record)
        self.samples = pd.DataFrame({"id": dataset.ids, "label": dataset.labels,
                                     "split": dataset.splits})
        self._maps = None
        if "maps" in base.stored_arrays:
            pos = pd.Index(base.samples["id"].astype(str)).get_indexer(base_ids)
            self._maps = np.concatenate([np.asarray(base.array("maps"))[pos],
                                         generated_maps(base, images, labels)])

    def array(self, name: str):
        if name != "maps" or self._maps is None:
            raise SliceLensError(f"no {name!r} for generated images")
        return self._maps

    def dataset(self):
        raise SliceLensError("the generated-image view has no manifest")

    def artifact_path(self, kind: str, name: str | None = None):
        """Caches (e.g. shape descriptors) go to the view's temporary folder."""
        from slicelens.store.artifacts import artifact_path

        return artifact_path(self.path, kind, name)

    def artifact_names(self, kind: str) -> list[str]:
        from slicelens.store.artifacts import artifact_names

        return artifact_names(self.path, kind)


def generated_maps(base, images: np.ndarray, labels: np.ndarray, batch: int = 128) -> np.ndarray:
    """Attribution maps of ``images`` by the run's model and extraction method (the same
    computation extraction stores as ``maps``)."""
    import torch

    from slicelens.concepts.runio import to_tensor
    from slicelens.extract.batch import extract_batch
    from slicelens.extract.methods import get_method

    ad = base.adapter()
    method = get_method(base.record.get("method", "auto"), ad)
    out = [extract_batch(ad, method, to_tensor(images[s:s + batch]),
                         torch.tensor(np.array(labels[s:s + batch], np.int64)))["maps"]
           for s in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros((0, 1, 1), np.float16)
