"""Attribute slicer: HiBug's bug discovery by attribute values and their combinations.

HiBug Sec. 3.2 groups samples by each attribute value (``N = sum_i n_i`` groups) and by
the combinations of values (at most ``min(prod_i n_i, D)`` groups) and calls a group a
bug slice when its accuracy is below the model's overall accuracy. Sec. 4.4 counts
correct and total samples per combination in one pass over the data, ``O(D)``.

Here each combination is one integer key per sample (mixed radix over the attributes'
value codes), and the counts are one ``np.bincount`` per attribute subset (``np.unique``
when the key space is too large), so every subset costs ``O(D)``. Subsets: all of 1 ..
``max_order`` attributes, plus HiBug's full combination of all attributes. Departures
from the paper, because small validation sets make raw accuracies noisy:

- a bug slice needs ``min_support`` samples and, by default, the upper end of its
  Wilson 95% interval below the overall accuracy (not just its point estimate);
- a combination is kept only when its accuracy is at least ``min_gain`` below each of
  its sub-combinations that were computed (the shortest description wins);
- slices are ranked by the Wilson upper bound (``slicelens.slicing.metrics``), then, by
  default (``ranking="mmr"``), reordered by maximal marginal relevance
  (:mod:`slicelens.slicing.ranking`) with the similarity of two slices taken as
  :func:`slice_redundancy` - so that one failure described ten ways ("one on brick
  background", "zero on brick background", ...) does not fill the top 10;
- assignments whose score is below ``min_score`` count as missing.

Each slice gets a bug type with its evidence (:mod:`slicelens.slicing.bugtype`).
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import ConfigDict, Field

from slicelens.slicing.base import Slice, Slicer, register_slicer
from slicelens.slicing.bugtype import BugTypeParams, bug_evidence, classify, explain
from slicelens.slicing.metrics import rank_order, slice_metrics, split_rows, wilson_interval

if TYPE_CHECKING:
    from slicelens.store.run import Run


#: MMR reorders the best ``MMR_POOL * max_slices`` slices of the Wilson order
MMR_POOL = 10


def slice_redundancy(members: np.ndarray, conditions: list) -> np.ndarray:
    """How much two attribute slices say the same thing, (k, k) in [0, 1], diagonal 1.

    The larger of two overlap coefficients (Szymkiewicz-Simpson, ``|A & B| / min(|A|,
    |B|)``): of the slices' members (a slice inside another) and of their conditions
    (``{digit: one, background: brick}`` and ``{digit: zero, background: brick}`` share
    half their words, the brick background).

    Parameters
    ----------
    members : bool (k, n)
    conditions : list of k sets of (attribute, value) pairs

    Examples
    --------
    >>> m = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]], bool)
    >>> c = [{(0, 1)}, {(0, 1), (1, 2)}, {(0, 2), (1, 2)}]
    >>> slice_redundancy(m, c).round(2).tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 0.5], [0.0, 0.5, 1.0]]
    """
    m = np.asarray(members, np.float64)
    size = m.sum(1)
    inter = m @ m.T
    s_members = inter / np.maximum(np.minimum.outer(size, size), 1.0)
    k = len(conditions)
    s_words = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            a, b = set(conditions[i]), set(conditions[j])
            s_words[i, j] = s_words[j, i] = len(a & b) / max(1, min(len(a), len(b)))
    out = np.maximum(s_members, s_words)
    np.fill_diagonal(out, 1.0)
    return out


def combination_keys(codes: np.ndarray, radices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per row for the value combination of ``codes``.

    Parameters
    ----------
    codes : int (n, k)
        Value index per attribute, -1 = missing.
    radices : int (k,)
        Number of values per attribute; ``prod(radices)`` must fit in int64.

    Returns
    -------
    keys : int64 (n,), ``sum_j codes[:, j] * prod(radices[:j])`` (0 where invalid)
    valid : bool (n,), no missing value
    """
    codes = np.asarray(codes, np.int64)
    valid = np.asarray((codes >= 0).all(1))
    mult = np.cumprod(np.r_[1, np.asarray(radices[:-1], np.int64)])
    return np.where(valid, codes @ mult, 0), valid


def decode_keys(keys: np.ndarray, radices: np.ndarray) -> np.ndarray:
    """Inverse of :func:`combination_keys`: int (u, k) codes from keys (u,)."""
    out = np.empty((len(keys), len(radices)), np.int64)
    rest = np.asarray(keys, np.int64)
    for j, r in enumerate(radices):
        out[:, j] = rest % r
        rest = rest // r
    return out


def count_groups(keys: np.ndarray, correct: np.ndarray, key_space: int) -> tuple[np.ndarray, ...]:
    """Size and correct count of every key present: (keys (u,), n (u,), hits (u,)).

    One ``np.bincount`` pass when ``key_space <= 4 * len(keys) + 1024``, else ``np.unique``.
    """
    correct = np.asarray(correct, np.float64)
    if key_space <= 4 * len(keys) + 1024:
        n = np.bincount(keys, minlength=key_space)
        hits = np.bincount(keys, weights=correct, minlength=key_space)
        u = np.flatnonzero(n)
        return u, n[u], hits[u].astype(np.int64)
    u, inv = np.unique(keys, return_inverse=True)
    return u, np.bincount(inv), np.bincount(inv, weights=correct).astype(np.int64)


def combination_counts(codes: np.ndarray, correct: np.ndarray, subsets, n_values,
                       min_support: int = 1) -> list[tuple[tuple[int, ...], np.ndarray, int, int]]:
    """Counts of every value combination of every attribute subset.

    Parameters
    ----------
    codes : int (n, m)
    correct : bool (n,)
    subsets : iterable of tuples of attribute indices
    n_values : int (m,), values per attribute
    min_support : int
        Groups with fewer samples are dropped.

    Returns
    -------
    list of ``(subset, value_codes (k,), n, hits)``
    """
    out = []
    n_values = np.asarray(n_values, np.int64)
    for sub in subsets:
        sub = tuple(sub)
        radices = n_values[list(sub)]
        keys, valid = combination_keys(codes[:, sub], radices)
        space = int(np.prod(radices.astype(float)))
        if space >= 2 ** 62:  # too many combinations for one integer: group rows instead
            uniq, inv = np.unique(codes[valid][:, sub], axis=0, return_inverse=True)
            u, n, hits = count_groups(inv.ravel(), correct[valid], len(uniq))
            vals = uniq[u]
        else:
            u, n, hits = count_groups(keys[valid], correct[valid], space)
            vals = decode_keys(u, radices)
        for j in np.flatnonzero(n >= min_support):
            out.append((sub, vals[j], int(n[j]), int(hits[j])))
    return out


class AttributeSlicerParams(BugTypeParams):
    """Parameters of the attribute slicer (bug-type thresholds inherited)."""

    model_config = ConfigDict(extra="forbid")

    max_order: int = Field(2, ge=1, le=6, description="combinations of up to this many attributes")
    full_combinations: bool = Field(True, description="also HiBug's combination of all attributes")
    min_support: int = Field(20, ge=1, description="fewest samples in a bug slice")
    significant: bool = Field(True, description="require the Wilson upper bound below overall accuracy")
    min_gain: float = Field(0.05, ge=0, le=1, description="accuracy drop a combination needs over its parts")
    min_score: float = Field(0.0, ge=0, le=1, description="assignments scored lower count as missing")
    max_slices: int = Field(30, ge=1, description="keep this many top-ranked bug slices")
    ranking: Literal["mmr", "wilson"] = Field(
        "mmr", description="mmr: redundancy-aware (maximal marginal relevance over shared "
        "members and shared conditions); wilson: each slice by its Wilson bound alone")
    mmr_lambda: float = Field(0.5, ge=0, le=1, description="MMR: weight of relevance "
                              "against similarity to slices ranked above")


@register_slicer("attributes")
class AttributeSlicer(Slicer):
    """Bug slices from the run's attribute matrix (``slicelens attributes assign`` first)."""

    p_: AttributeSlicerParams  # the validated parameters (set in __init__/fit)
    Params = AttributeSlicerParams
    overlapping = True  # "brick background" and "small digits on brick background" share samples
    requires = ("attribute_matrix",)  # <run>/attributes/matrix.parquet, not a run array

    def _codes(self, run: Run, ids):
        from slicelens.attributes.matrix import AttributeMatrix

        if not hasattr(self, "matrix_"):
            self.matrix_ = AttributeMatrix.load(run.path)
        codes, scores = self.matrix_.codes(ids)
        codes[~(scores >= self.p_.min_score)] = -1
        return codes

    def _fit(self, run: Run, split: str) -> None:
        from slicelens.attributes.runio import load_spec

        p, samples = self.p_, run.samples
        rows = split_rows(samples, split)
        rows = rows[samples["label"].to_numpy()[rows] >= 0]
        sub = samples.iloc[rows]
        codes = self._codes(run, sub["id"].to_numpy(str))
        correct = sub["correct"].to_numpy(dtype=bool, na_value=False)
        attrs = self.matrix_.attributes
        n_values = [len(self.matrix_.values[a]) for a in attrs]
        m = len(attrs)
        subsets = [s for k in range(1, min(p.max_order, m) + 1) for s in combinations(range(m), k)]
        if p.full_combinations and m > p.max_order:
            subsets.append(tuple(range(m)))
        groups = combination_counts(codes, correct, subsets, n_values, p.min_support)
        overall = float(correct.mean())
        acc = {frozenset(zip(s, v.tolist(), strict=True)): h / n for s, v, n, h in groups}
        bugs = []
        for s, v, n, h in groups:
            cond = frozenset(zip(s, v.tolist(), strict=True))
            if h / n >= overall or (p.significant and wilson_interval(h, n)[1] >= overall):
                continue
            parts = [acc[frozenset(c)] for k in range(1, len(cond))
                     for c in combinations(sorted(cond), k) if frozenset(c) in acc]
            if parts and h / n > min(parts) - p.min_gain:
                continue
            bugs.append(cond)
        self.spec_ = load_spec(run.path)
        self.slices_ = self._build(run, sub, codes, bugs, split)
        self.sample_ids_ = sub["id"].to_numpy(str)
        self.labels_ = self._first_slice(codes)
        self.overall_accuracy_ = overall

    def _build(self, run: Run, sub, codes, bugs, split) -> list[Slice]:
        members = [self._member(codes, cond) for cond in bugs]
        metrics = [slice_metrics(sub[mask], run.classes) for mask in members]
        order = rank_order(metrics)
        if self.p_.ranking == "mmr" and len(order) > 1:
            from slicelens.slicing.ranking import mmr_order

            head = order[: MMR_POOL * self.p_.max_slices]
            rel = np.nan_to_num([1.0 - float(metrics[i]["acc_high"]) for i in head], nan=0.0)
            sim = slice_redundancy(np.stack([members[i] for i in head]), [bugs[i] for i in head])
            order = head[mmr_order(rel, sim, self.p_.mmr_lambda)]
        order = order[: self.p_.max_slices]
        train = self._split_arrays(run, "train")
        slices = []
        for rank, i in enumerate(order):
            cond = sorted(bugs[i])
            conditions = {self.matrix_.attributes[a]: self.matrix_.values[
                self.matrix_.attributes[a]][v] for a, v in cond}
            ev = bug_evidence(members[i], sub["label"].to_numpy(), sub["pred"].to_numpy(),
                              sub["confidence"].to_numpy(float), self._member(train[0], cond),
                              *train[1:], len(run.classes))
            bug_type = classify(ev, self.p_)
            ev["explanation"] = explain(bug_type, ev, run.classes)
            ev["conditions"] = conditions
            slices.append(Slice(id=f"attributes-{rank:02d}", members=sub["id"].to_numpy(str)[members[i]],
                                description=describe(conditions, self.spec_),
                                metrics={**metrics[i], "split": split}, bug_type=bug_type,
                                evidence=ev))
        self.conditions_ = [sorted(bugs[i]) for i in order]
        return slices

    def _split_arrays(self, run: Run, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
        s = run.samples
        rows = np.flatnonzero((s["split"].to_numpy() == split) & (s["label"].to_numpy() >= 0))
        t = s.iloc[rows]
        return (self._codes(run, t["id"].to_numpy(str)), t["label"].to_numpy(),
                t["pred"].to_numpy(), t["confidence"].to_numpy(float))

    @staticmethod
    def _member(codes: np.ndarray, cond) -> np.ndarray:
        mask = np.ones(len(codes), bool)
        for a, v in cond:
            mask &= codes[:, a] == v
        return mask

    def _first_slice(self, codes: np.ndarray) -> np.ndarray:
        out = np.full(len(codes), -1, np.int64)
        for i in range(len(self.conditions_) - 1, -1, -1):  # highest rank written last
            out[self._member(codes, self.conditions_[i])] = i
        return out

    def _assign(self, run: Run, split: str) -> np.ndarray:
        ids = run.samples["id"].to_numpy(str)[split_rows(run.samples, split)]
        return self._first_slice(self._codes(run, ids))


def describe(conditions: dict[str, str], spec) -> str:
    """Words for a value combination: "small white digits on brown background".

    Phrases ``"{value} {object}s"`` become adjectives of one noun; a phrase that starts
    with the value otherwise (``"{value}s"``: "fours") replaces the noun; the other
    phrases ("on {value} background", "in {value} light") follow it. Two attributes with
    the same phrase are said once, colours first: "on black brick background", not "on
    brick background on black background".
    """
    obj = spec.object if spec is not None else "object"
    adjectives, nouns, rest = [], [], []
    shared: dict[str, tuple] = {}  # phrase -> (its first attribute, [(not colour, value)])
    for name, value in conditions.items():
        attr = spec.get(name) if spec is not None and name in spec.names else None
        if attr is None:
            rest.append(f"with {name} = {value}")
        elif attr.phrase == "{value} {object}s":
            adjectives.append(value)
        elif attr.phrase.startswith("{value}"):
            nouns.append(attr.describe(value, obj))
        else:
            if attr.phrase not in shared:
                shared[attr.phrase] = (attr, [])
                rest.append(attr.phrase)  # a placeholder, filled below in this order
            shared[attr.phrase][1].append((not (attr.measure or "").endswith("colour"), value))
    rest = [shared[p][0].describe(" ".join(v for _, v in sorted(shared[p][1],
                                                                key=lambda t: t[0])), obj)
            if p in shared else p for p in rest]
    noun = " and ".join(nouns) if nouns else f"{obj}s"
    return " ".join([*adjectives, noun, *rest])
