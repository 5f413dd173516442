"""The attribute matrix ``X_A`` of HiBug Sec. 3.1: one value (and its score) per image and
attribute.

Stored long, one row per (sample, attribute): ``<run>/attributes/matrix.parquet`` with
columns ``id, attribute, value, score`` (``value`` and ``attribute`` dictionary-encoded,
so 1M x 6 rows stay small). Long rather than wide because every assignment keeps its
own score (low-confidence assignments are shown as such) and a backend may leave a
sample unassigned. Slicing reads the integer form :meth:`AttributeMatrix.codes`.

Example
-------
>>> import pandas as pd
>>> m = AttributeMatrix(pd.DataFrame({"id": ["a", "b"], "attribute": ["size", "size"],
...                                   "value": ["small", "large"], "score": [0.9, 0.6]}),
...                     {"size": ["small", "large"]})
>>> m.codes(["b", "a"])[0].ravel().tolist()
[1, 0]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slicelens.errors import DataError, WorkspaceError

COLUMNS = ("id", "attribute", "value", "score")


class AttributeMatrix:
    """Attribute values of samples.

    Parameters
    ----------
    table : DataFrame
        Columns ``id, attribute, value, score`` (score in [0, 1], higher = surer).
    values : dict attribute -> list of str
        The value vocabulary of each attribute, in display order (attributes in order).
    """

    def __init__(self, table: pd.DataFrame, values: dict[str, list[str]]):
        missing = [c for c in COLUMNS if c not in table]
        if missing:
            raise DataError(f"attribute matrix lacks column {missing[0]!r}", field=missing[0])
        self.table = table.loc[:, list(COLUMNS)].reset_index(drop=True)
        self.values = {a: list(v) for a, v in values.items()}
        unknown = set(self.table["attribute"].astype(str)) - set(self.values)
        if unknown:
            raise DataError(f"attribute {sorted(unknown)[0]!r} has no value list", field="attribute")

    @property
    def attributes(self) -> list[str]:
        return list(self.values)

    def __len__(self) -> int:
        return len(self.table)

    @classmethod
    def concat(cls, parts: list[AttributeMatrix]) -> AttributeMatrix:
        values: dict[str, list[str]] = {}
        for p in parts:
            values.update(p.values)
        return cls(pd.concat([p.table for p in parts], ignore_index=True), values)

    def codes(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """Integer codes aligned with ``ids``.

        Returns
        -------
        codes : ndarray of int32, shape (n, m)
            Index into ``self.values[attribute]``; -1 where a sample has no value.
        scores : ndarray of float32, shape (n, m)
            The assignment scores (NaN where unassigned).
        """
        ids = pd.Index(np.asarray(ids, dtype=str))
        n, attrs = len(ids), self.attributes
        codes = np.full((n, len(attrs)), -1, np.int32)
        scores = np.full((n, len(attrs)), np.nan, np.float32)
        rows = ids.get_indexer(self.table["id"].astype(str))
        ok = rows >= 0
        t = self.table[ok]
        rows = rows[ok]
        col = pd.Index(attrs).get_indexer(t["attribute"].astype(str))
        for j, a in enumerate(attrs):
            sel = col == j
            vocab = pd.Index(self.values[a])
            codes[rows[sel], j] = vocab.get_indexer(t["value"].astype(str).to_numpy()[sel])
            scores[rows[sel], j] = t["score"].to_numpy(np.float32)[sel]
        return codes, scores

    def wide(self, ids=None) -> pd.DataFrame:
        """One row per sample, one column per attribute (value strings, None if missing)."""
        ids = self.table["id"].astype(str).unique() if ids is None else np.asarray(ids, str)
        codes, _ = self.codes(ids)
        out = {"id": ids}
        for j, a in enumerate(self.attributes):
            vocab = np.asarray(self.values[a] + [None], dtype=object)
            out[a] = vocab[codes[:, j]]  # -1 picks the trailing None
        return pd.DataFrame(out)

    def histogram(self, attribute: str, ids=None) -> pd.DataFrame:
        """Counts per value of one attribute (HiBug App. 7.2 histogram), with mean score."""
        if attribute not in self.values:
            raise DataError(f"no attribute {attribute!r}; have {self.attributes}", field="attribute")
        t = self.table[self.table["attribute"].astype(str) == attribute]
        if ids is not None:
            t = t[t["id"].astype(str).isin(set(map(str, ids)))]
        g = t.groupby(t["value"].astype(str), observed=True)["score"]
        out = pd.DataFrame({"value": self.values[attribute]})
        out["n"] = out["value"].map(g.size()).fillna(0).astype(int)
        out["mean_score"] = out["value"].map(g.mean())
        return out

    # -- persistence -----------------------------------------------------------------
    def save(self, run_dir) -> Path:
        """Write ``<run_dir>/attributes/matrix.parquet`` (+ the value lists) atomically."""
        import json

        from slicelens.store.artifacts import artifact_path
        from slicelens.store.atomic import write_bytes, write_parquet

        path = artifact_path(run_dir, "attribute_matrix")
        t = self.table.copy()
        t["id"] = t["id"].astype(str)
        t["attribute"] = pd.Categorical(t["attribute"].astype(str), categories=self.attributes)
        t["value"] = t["value"].astype(str).astype("category")
        t["score"] = t["score"].astype(np.float32)
        write_parquet(path, t)
        # a list of pairs: attribute order is meaningful (JSON objects get sorted)
        write_bytes(artifact_path(run_dir, "attribute_values"),
                    json.dumps(list(self.values.items()), indent=1).encode())
        return path

    @classmethod
    def load(cls, run_dir) -> AttributeMatrix:
        import json

        from slicelens.store.artifacts import artifact_path

        path = artifact_path(run_dir, "attribute_matrix")
        if not path.exists():
            raise WorkspaceError(f"run {Path(run_dir).name} has no attribute matrix; run "
                                 "`slicelens attributes assign` first")
        values = dict(json.loads(artifact_path(run_dir, "attribute_values").read_text()))
        return cls(pd.read_parquet(path), values)


def from_codes(ids, attribute: str, values: list[str], codes: np.ndarray,
               scores: np.ndarray) -> AttributeMatrix:
    """An :class:`AttributeMatrix` for one attribute from integer codes.

    Parameters
    ----------
    ids : array of str, shape (n,)
    codes : int array, shape (n,)
        Index into ``values``; -1 = unassigned (dropped).
    scores : float array, shape (n,)
    """
    codes = np.asarray(codes)
    keep = codes >= 0
    table = pd.DataFrame({"id": np.asarray(ids, str)[keep], "attribute": attribute,
                          "value": np.asarray(values, dtype=object)[codes[keep]],
                          "score": np.clip(np.asarray(scores, np.float32)[keep], 0, 1)})
    return AttributeMatrix(table, {attribute: list(values)})
