"""Quality control and aggregation of concept answers (AACA step b, Alg. 1 lines 5-9).

As the paper (Experiments, "Crowd annotations"; Discussion, "bias/subjectivity"):

1. **pre-test**: every annotator answers gold items (images whose accepted confounded
   and valid concepts are known); an answer is *accepted* when it names at least one
   accepted confounded concept and at least one accepted valid concept (a side the gold
   item leaves empty is not checked). Annotators whose acceptance rate is below
   ``min_accept`` (default 0.8, the paper's 80%) are excluded: their answers are kept
   but not counted. With gold items, an annotator who answered none is excluded too
   ("not pre-tested"); without gold items there is no pre-test and everyone counts.
   Answers on gold items are the pre-test, never votes.
2. **synonym unification**: concepts are grouped by cosine similarity of the shipped
   MiniLM sentence model (:func:`slicelens.attributes.text.similarity`): words closer
   than ``synonym_threshold`` (0.75) are linked, a group is a connected set of links,
   its most frequent word represents it. Every merge is listed with its similarity;
   ``keep_apart`` undoes merges of named words.
3. **majority vote**: per class, concepts counted once per answer, the ``top`` (10)
   most frequent kept; agreement = share of the class's counted answers naming it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slicelens.concepts.answers import ConceptAnswer, split_concepts

#: Defaults stated in one place (docs/concepts.md repeats them).
MIN_ACCEPT = 0.8
TOP = 10
SYNONYM_THRESHOLD = 0.75


@dataclass
class GoldItem:
    """A pre-test image and the concepts accepted on it."""

    image_id: str
    confounded: set[str] = field(default_factory=set)
    valid: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, image_id: str, confounded: str = "", valid: str = "") -> GoldItem:
        return cls(str(image_id), set(split_concepts(confounded)), set(split_concepts(valid)))

    def accepts(self, a: ConceptAnswer) -> bool:
        ok_c = not self.confounded or bool(self.confounded & set(a.confounded))
        ok_v = not self.valid or bool(self.valid & set(a.valid))
        return ok_c and ok_v


def pretest(answers: list[ConceptAnswer], gold: dict[str, GoldItem],
            min_accept: float = MIN_ACCEPT) -> dict[str, dict]:
    """Per worker: ``gold_answered``, ``accepted``, ``rate`` and ``passed``.

    Examples
    --------
    >>> g = {"g1": GoldItem.of("g1", "brick", "digit")}
    >>> a = [ConceptAnswer("ok", "g1", "0-4", ["brick"], ["digit"]),
    ...      ConceptAnswer("bad", "g1", "0-4", ["sky"], ["digit"])]
    >>> {w: r["passed"] for w, r in pretest(a, g).items()}
    {'ok': True, 'bad': False}
    """
    out: dict[str, dict] = {}
    for a in answers:
        r = out.setdefault(a.worker, {"gold_answered": 0, "accepted": 0})
        if a.image_id in gold:
            r["gold_answered"] += 1
            r["accepted"] += int(gold[a.image_id].accepts(a))
    for r in out.values():
        n = r["gold_answered"]
        r["rate"] = r["accepted"] / n if n else None
        r["passed"] = True if not gold else (n > 0 and r["rate"] >= min_accept)
    return out


def majority_vote(concept_lists: list[list[str]], top: int = TOP) -> list[tuple[str, int]]:
    """The ``top`` concepts named by most answers (each answer counts a concept once);
    ties by name.

    >>> majority_vote([["brick", "wall"], ["brick"], ["sky", "sky"]], top=2)
    [('brick', 2), ('sky', 1)]
    """
    counts = Counter(c for lst in concept_lists for c in set(lst))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def unify_synonyms(concept_lists: list[list[str]], threshold: float = SYNONYM_THRESHOLD,
                   keep_apart=()) -> tuple[dict[str, str], list[dict]]:
    """Map every concept to its synonym group's representative (MiniLM, see module doc).

    Groups are the connected components of "cosine >= ``threshold``" (a word joins a
    group when it is close to ANY member: "lawn" joins "grass" even when "green grass"
    is the most frequent member); the most frequent member (then the shortest) represents
    the group. Words in ``keep_apart`` stay on their own.

    Returns ``(mapping, merges)``; ``merges`` lists ``{"word", "into", "similarity",
    "link"}`` for every word mapped to another (``similarity`` to the representative,
    ``link`` its highest cosine inside the group), so a person can undo one.
    """
    from scipy.sparse.csgraph import connected_components

    from slicelens.attributes.text import similarity

    counts = Counter(c for lst in concept_lists for c in set(lst))
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))]
    if not words:
        return {}, []
    sim = similarity(words, words).astype(np.float64)
    link = sim >= threshold
    apart = [i for i, w in enumerate(words) if w in set(keep_apart)]
    link[apart, :] = link[:, apart] = False
    np.fill_diagonal(link, True)
    _, comp = connected_components(link, directed=False)
    rep = {c: words[min(np.flatnonzero(comp == c))] for c in set(comp)}  # words are by frequency
    mapping = {w: rep[comp[i]] for i, w in enumerate(words)}
    merges = []
    for i, w in enumerate(words):
        if mapping[w] != w:
            j = words.index(mapping[w])
            mates = [m for m in np.flatnonzero(comp == comp[i]) if m != i]
            merges.append({"word": w, "into": mapping[w], "similarity": round(float(sim[i, j]), 3),
                           "link": round(float(max(sim[i, m] for m in mates)), 3)})
    return mapping, merges


def summarize(answers: list[ConceptAnswer], gold: dict[str, GoldItem] | None = None, *,
              min_accept: float = MIN_ACCEPT, top: int = TOP,
              synonym_threshold: float | None = SYNONYM_THRESHOLD, keep_apart=()) -> dict:
    """Per class the confounded set C and valid set V after QC, unification and vote.

    ``synonym_threshold=None`` switches unification off. Returns a JSON-able dict with
    ``classes`` (class -> ``C``, ``V`` lists of ``{"concept", "count", "agreement"}``,
    ``answers``, ``annotators``), ``workers`` (the pre-test table; ``passed`` workers are counted),
    ``merges`` and the settings used.
    """
    gold = gold or {}
    table = pretest(answers, gold, min_accept)
    counted = [a for a in answers if table[a.worker]["passed"] and a.image_id not in gold]
    mapping: dict[str, str] = {}
    merges: list[dict] = []
    if synonym_threshold is not None:
        mapping, merges = unify_synonyms([a.confounded for a in counted] +
                                         [a.valid for a in counted], synonym_threshold, keep_apart)
    canon = lambda lst: [mapping.get(c, c) for c in lst]  # noqa: E731
    classes: dict[str, dict] = {}
    for label in sorted({a.label for a in counted}):
        mine = [a for a in counted if a.label == label]
        entry: dict[str, Any] = {"answers": len(mine), "annotators": len({a.worker for a in mine})}
        for key, attr in (("C", "confounded"), ("V", "valid")):
            votes = majority_vote([canon(getattr(a, attr)) for a in mine], top)
            entry[key] = [{"concept": c, "count": n, "agreement": round(n / len(mine), 3)}
                          for c, n in votes]
        classes[label] = entry
    return {"classes": classes, "workers": table, "merges": merges,
            "settings": {"min_accept": min_accept, "top": top, "gold_items": len(gold),
                         "synonym_threshold": synonym_threshold, "keep_apart": list(keep_apart),
                         "answers": len(answers), "counted_answers": len(counted)}}
