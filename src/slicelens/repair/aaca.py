"""AACA targeted augmentation (paper Alg. 1 lines 10-22, steps c-f): debug images for
every class's valid concepts, chosen by the priority score of Eq. 1.

1. the stored concept answers are summarised (pre-test, synonym unification, majority
   vote: :func:`slicelens.concepts.quality.summarize`) into C (confounded) and V (valid)
   per class;
2. (c) a prompt ``"a photo of <class> containing <v>"`` per valid concept ``v``;
3. candidate debug images ``D'_debug`` (``candidates`` per class), from one of
   - ``pool`` (offline default; the search-based route of the paper's baselines): pool
     images whose revealed label (``oracle``) is the class, retrieved per prompt by
     concept tags: an image matches ``v`` when one of its offline attribute values is a
     MiniLM synonym of ``v`` (cosine >= ``retrieval_threshold``); a concept the tagger
     never sees (e.g. "digit") matches every image of the class, which is recorded;
   - ``compositor``: the class's objects pasted on backgrounds of the data
     (:mod:`slicelens.repair.compositor`), one prompt at a time;
   - ``generator``: a text-to-image backend (``generator``, e.g. ``diffusers``);
4. (d) ``sel``: the ``k`` candidates per class with the highest Eq. 1 priority
   (:mod:`slicelens.concepts.priority`: the current model's uncertainty, by default
   (``uncertainty="cross-entropy"``) the cross entropy of the class the image is for, or
   the predictive entropy, minus the summed cosine similarity to the embeddings of the
   saliency regions of that class's seed images annotated with a concept of C); ``app``: ``k`` candidates per
   class at random (appended without selection). Both add the same number.
   ``confounded_in`` says which class a seed's confounded regions penalise: its label
   (the paper's C(s_n): "art studio" images with a leather bag, Fig. 1) or (default) the
   class the model predicted for it. They differ when the confounder is a shortcut
   shared by a class: a "0-4" digit on the brick background that "5-9" images sit on,
   predicted "5-9", makes the label reading keep the new "0-4" images AWAY from brick
   (more of the majority group, the shortcut reinforced) and the prediction reading keep
   the new "5-9" images away from brick (the minority group of "5-9", the shortcut
   broken);
5. (e, f) the debug set joins training and the model is retrained (``apply_plan``);
   the matched control retrains on unchanged data.

Every debug image records its prompt (``plan.params["prompts"]`` and, for images,
``prompts.csv`` beside ``images.npz``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError
from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.plan import TrainingPlan, new_plan_dir

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class AACAParams(BaseModel):
    """Options of AACA."""

    variant: Literal["app", "sel"] = Field("sel", description="append k candidates at random "
                                           "(app) or the k of highest priority, Eq. 1 (sel)")
    source: Literal["pool", "compositor", "generator"] = Field(
        "pool", description="where debug images come from")
    k: int = Field(50, ge=1, description="debug images added per class")
    candidates: int = Field(150, ge=1, description="candidate debug images per class (D'_debug)")
    lam: float = Field(0.5, ge=0, le=1, description="lambda of Eq. 1")
    oracle: str | None = Field(None, description="pool: CSV revealing pool labels")
    oracle_column: str = Field("label", description="label column of the oracle CSV")
    gold: str | None = Field(None, description="gold CSV of the pre-test (none: no pre-test)")
    min_accept: float = Field(0.8, ge=0, le=1, description="pre-test acceptance rate to count")
    synonym_threshold: float | None = Field(0.75, description="MiniLM cosine to unify synonyms")
    retrieval_threshold: float = Field(0.6, ge=0, le=1, description="pool: MiniLM cosine of a "
                                       "concept to an attribute value to match")
    generator: str = Field("diffusers", description="source=generator: GENERATORS key")
    region_share: float = Field(0.5, gt=0, le=1, description="salient region: map >= this "
                                "share of its maximum")
    confounded_in: Literal["label", "prediction"] = Field(
        "prediction", description="sel: the class whose debug images Eq. 1 keeps away from "
        "a seed's confounded region: the seed's label (the paper, C(s_n)) or the class the model "
        "predicted for it (where the confounder pulled the decision; the default, measured "
        "in docs/concepts.md)")
    uncertainty: Literal["entropy", "cross-entropy"] = Field(
        "cross-entropy", description="sel: H of Eq. 1: the predictive entropy of the current "
        "model (Gal et al., no label) or the cross entropy -ln p(s_n | d) of the class the debug "
        "image is for (the paper's 'H refers to cross entropy'), high on images the model "
        "gets confidently wrong")
    seed: int = Field(0, description="random seed (app's draw, generation)")


def _prompt(cls: str, concept: str) -> str:
    return f"a photo of {cls} containing {concept}"


@register_repair("aaca")
class AACA(RepairStrategy):
    """AACA: debug images for valid concepts, chosen by the priority score (Eq. 1)."""

    Params = AACAParams

    def _plan(self, workspace: Workspace, run: Run, p: AACAParams) -> TrainingPlan:
        from slicelens.concepts.crowd import read_gold
        from slicelens.concepts.runio import concept_summary, salient_embeddings
        from slicelens.concepts.store import answers

        gold = read_gold(p.gold) if p.gold else {}
        summary = concept_summary(workspace, run, gold, min_accept=p.min_accept,
                                  synonym_threshold=p.synonym_threshold)
        V = {c: [e["concept"] for e in v["V"]] for c, v in summary["classes"].items() if v["V"]}
        C = {c: {e["concept"] for e in v["C"]} for c, v in summary["classes"].items()}
        if not V:
            raise SliceLensError("no class has a valid concept after quality control: "
                                 "annotate more images (slicelens concepts annotate / import)")
        canon = {m["word"]: m["into"] for m in summary["merges"]}
        passed = {w for w, r in summary["workers"].items() if r["passed"]}
        conf_imgs: dict[str, list[str]] = {}
        pred = dict(zip(run.samples["id"].astype(str),
                        (run.classes[int(c)] for c in run.samples["pred"]), strict=True))
        for a in answers(workspace, run):
            if a.worker in passed and a.image_id not in gold and \
                    any(canon.get(c, c) in C.get(a.label, ()) for c in a.confounded):
                to = a.label if p.confounded_in == "label" else pred.get(a.image_id, a.label)
                conf_imgs.setdefault(to, []).append(a.image_id)
        conf_emb = {c: salient_embeddings(run, sorted(set(ids)), p.region_share)
                    for c, ids in conf_imgs.items()}
        rng = np.random.default_rng(p.seed)
        if p.source == "pool":
            cand = self._pool(run, p, V, rng)
        else:
            cand = self._generated(run, p, V)
        labels, prompts = cand["labels"], cand["prompts"]
        scores = np.full(len(labels), np.nan)
        picked: list[int] = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            if p.variant == "sel":
                from slicelens.concepts.priority import priority_scores

                emb = conf_emb.get(run.classes[c], np.zeros((0, 1)))
                scores[rows] = priority_scores(
                    cand["probs"][rows], cand["emb"][rows],
                    emb if len(emb) else np.zeros((0, cand["emb"].shape[1])), p.lam,
                    labels=labels[rows] if p.uncertainty == "cross-entropy" else None)
                order = rows[np.lexsort((rows, -scores[rows]))]
                picked += order[: p.k].tolist()
            else:
                picked += rng.permutation(rows)[: p.k].tolist()
        chosen = np.sort(np.asarray(picked, int))
        params = {**p.model_dump(mode="json"), "C": {c: sorted(v) for c, v in C.items()},
                  "V": V, "merges": summary["merges"],
                  "confounded_regions": {c: len(e) for c, e in conf_emb.items()},
                  "confounded_images": {c: sorted(set(ids)) for c, ids in conf_imgs.items()},
                  "candidates_found": {run.classes[c]: int((labels == c).sum())
                                       for c in np.unique(labels)},
                  "retrieval": cand.get("retrieval", {})}
        desc = (f"AACA-{p.variant}: {len(chosen)} debug images ({p.source}) for valid concepts "
                + "; ".join(f"{c}: {', '.join(v[:3])}" for c, v in V.items()))
        if p.source == "pool":
            ids = cand["ids"][chosen]
            params["prompts"] = {str(i): prompts[j] for i, j in zip(ids, chosen, strict=True)}
            # D'_debug itself, for the reachable-JSD diagnostic (slicelens.concepts.bound)
            params["candidate_ids"] = {str(i): int(c) for i, c in
                                       zip(cand["ids"], labels, strict=True)}
            params["scores"] = {str(i): float(scores[j]) for i, j in zip(ids, chosen, strict=True)
                                if not np.isnan(scores[j])}
            return TrainingPlan(strategy=self.name, params=params, description=desc,
                                add={str(i): int(labels[j]) for i, j in zip(ids, chosen, strict=True)})
        return self._save_images(workspace, cand, chosen, scores, params, desc)

    def _pool(self, run: Run, p, V, rng) -> dict:
        from slicelens.concepts.runio import embed_images, load_images, probs_of
        from slicelens.repair.select import _pool, load_oracle

        if not p.oracle:
            raise SliceLensError("source='pool' needs an oracle CSV revealing pool labels "
                                 "(parameter 'oracle')")
        oracle = load_oracle(p.oracle, p.oracle_column, run.classes)
        pool_ids = _pool(run)["id"].to_numpy(str)
        known = np.array([i in oracle for i in pool_ids])
        pool_ids = pool_ids[known]
        plabels = np.array([oracle[i] for i in pool_ids], int)
        tags = _tags(run, pool_ids)
        found: list[str] = []
        labels: list[int] = []
        prompts: list = []
        retrieval: dict[str, str] = {}
        for cls, concepts in V.items():
            c = run.classes.index(cls)
            mine = pool_ids[plabels == c]
            per = -(-p.candidates // len(concepts))
            taken: set[str] = set()
            for v in concepts:
                match = _retrieve(v, mine, tags, p.retrieval_threshold)
                retrieval[f"{cls} / {v}"] = ("class only (the tagger has no such concept)"
                                             if match is None else f"{len(match)} tagged images")
                pick = [i for i in rng.permutation(mine if match is None else match)
                        if i not in taken][:per]
                taken.update(pick)
                found += pick
                labels += [c] * len(pick)
                prompts += [_prompt(cls, v)] * len(pick)
        if not found:
            raise SliceLensError("the pool has no revealed image of a class with valid concepts")
        ids = np.asarray(found)
        imgs = load_images(run, ids)
        return {"ids": ids, "labels": np.asarray(labels), "prompts": prompts,
                "probs": probs_of(run, imgs), "emb": embed_images(run, imgs),
                "retrieval": retrieval}

    def _generated(self, run: Run, p, V) -> dict:
        from slicelens.concepts.runio import embed_images, probs_of
        from slicelens.repair.generate import GenerationContext, PromptSpec, get_generator

        specs, counts = [], []
        for cls, concepts in V.items():
            n = np.full(len(concepts), p.candidates // len(concepts))
            n[: p.candidates - n.sum()] += 1
            specs += [PromptSpec(run.classes.index(cls), {}, _prompt(cls, v)) for v in concepts]
            counts += n.tolist()
        gen = get_generator("compositor" if p.source == "compositor" else p.generator)
        size = run.record.input_size
        images, labels = gen.generate(specs, np.asarray(counts), GenerationContext(
            run, run.dataset(), size), p.seed)
        prompts = [s.text for s, n in zip(specs, counts, strict=True) for _ in range(n)]
        return {"images": images, "labels": labels, "prompts": prompts,
                "probs": probs_of(run, images), "emb": embed_images(run, images)}

    def _save_images(self, workspace: Workspace, cand, chosen, scores, params, desc) -> TrainingPlan:
        import csv

        from slicelens.store.atomic import save_npz

        folder = new_plan_dir(workspace, self.name)
        save_npz(folder / "images.npz", images=cand["images"][chosen],
                 labels=cand["labels"][chosen])
        with (folder / "prompts.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["index", "label", "prompt", "priority"])
            for n, j in enumerate(chosen):
                w.writerow([n, int(cand["labels"][j]), cand["prompts"][j],
                            "" if np.isnan(scores[j]) else f"{scores[j]:.6f}"])
        params["prompts"] = [cand["prompts"][j] for j in chosen]
        return TrainingPlan(strategy=self.name, params=params, description=desc,
                            extra_images=str(folder / "images.npz"))


def _tags(run: Run, ids) -> dict[str, list[str]] | None:
    """Attribute values per image (no class), or None without an attribute matrix."""
    from slicelens.attributes.matrix import AttributeMatrix

    try:
        matrix = AttributeMatrix.load(run.path)
    except SliceLensError:
        return None
    codes, _ = matrix.codes(list(ids))
    return {i: [matrix.values[a][int(v)] for a, v in zip(matrix.attributes, row, strict=True)
                if v >= 0] for i, row in zip(ids, codes, strict=True)}


def _retrieve(concept: str, ids, tags, threshold: float):
    """Ids whose tags hold a MiniLM synonym of ``concept``; None when no tag value of the
    whole set is one (the tagger cannot see the concept)."""
    if tags is None:
        return None
    from slicelens.attributes.text import similarity

    values = sorted({t for i in ids for t in tags.get(i, [])})
    if not values:
        return None
    close = {v for v, s in zip(values, similarity([concept], values)[0], strict=True)
             if s >= threshold}
    if not close:
        return None
    return np.asarray([i for i in ids if close & set(tags.get(i, []))])
