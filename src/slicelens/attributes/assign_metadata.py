"""Attributes from the manifest's own metadata columns (``metadata`` backend).

When the data already carries attributes (camera, site, age group...), they are the
most reliable attribute matrix there is: every assignment has score 1. Columns listed
as hidden (ground truth kept for evaluation) are never read. Numeric columns with more
than ``max_categories`` distinct values are cut into quantile bins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from slicelens.attributes.assign_stats import quantile_bins
from slicelens.attributes.base import Attribute, Backend, register_assigner
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.errors import DataError

if TYPE_CHECKING:
    from slicelens.store.run import Run


def metadata_attributes(dataset, max_categories: int = 12) -> list[Attribute]:
    """One attribute per visible metadata column that can define slices.

    Columns with a single value, or with more distinct strings than
    ``max_categories`` (ids, paths, free text), are skipped.
    """
    out = []
    for col in dataset.visible_metadata().columns:
        s = dataset.metadata[col]
        n = s.nunique(dropna=True)
        if n < 2 or (n > max_categories and not pd.api.types.is_numeric_dtype(s)):
            continue
        out.append(Attribute(str(col), backend="metadata", measure=str(col),
                             phrase=f"{col} = {{value}}"))
    return out


@register_assigner("metadata")
class MetadataAssigner(Backend):
    """Values read from manifest columns (score 1)."""

    requires = ()

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        max_categories: int = Field(12, ge=2, description="numeric columns with more values are binned")
        bins: int = Field(3, ge=2, le=10, description="quantile bins for numeric columns")

    def supports(self, attribute: Attribute) -> bool:
        return attribute.backend == "metadata"

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray) -> AttributeMatrix:
        ids = run.samples["id"].to_numpy(str)[rows]
        meta = dataset.metadata.iloc[dataset.index_of(ids)].reset_index(drop=True)
        parts = []
        for a in attributes:
            col = a.measure or a.name
            if col in dataset.hidden_columns:
                raise DataError(f"column {col!r} is hidden ground truth; no attribute may read it",
                                file=dataset.source, field=col)
            if col not in meta:
                raise DataError(f"no metadata column {col!r} for attribute {a.name!r}",
                                file=dataset.source, field=col)
            parts.append(self._column(a, ids, meta[col]))
        return AttributeMatrix.concat(parts)

    def _column(self, a: Attribute, ids, s: pd.Series) -> AttributeMatrix:
        ok = s.notna().to_numpy()
        if pd.api.types.is_numeric_dtype(s) and s.nunique() > self.p.max_categories:
            values = a.values or [f"q{i + 1}" for i in range(self.p.bins)]
            code = np.full(len(s), -1)
            code[ok], _ = quantile_bins(s.to_numpy(float)[ok], len(values))
            return from_codes(ids, a.name, values, code, np.ones(len(s)))
        text = s.astype(str).to_numpy()
        values = a.values or sorted(set(text[ok]))
        code = pd.Index(values).get_indexer(text)
        code[~ok] = -1
        return from_codes(ids, a.name, values, code, np.ones(len(s)))
