"""Names of the ``clusters`` backend's clusters: the naming file and its use.

A person names each cluster once (``slicelens attributes clusters --out names.yaml``
writes a template with each cluster's size and example images; fill in the names, then
``slicelens attributes name names.yaml``). The file, YAML or JSON::

    digit:                                  # the attribute (backend: clusters)
      cluster 1 of class 5-9: seven         # key: name
      cluster 2 of class 5-9: ""            # empty = not named yet

is stored as ``<run>/attributes/cluster_names.json``; applying it rewrites only the
cluster attributes of the stored attribute matrix (no re-clustering).

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> _ = save_names(d, {"digit": {"cluster 1 of class a": "seven"}})
>>> load_names(d)
{'digit': {'cluster 1 of class a': 'seven'}}
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from slicelens.attributes.assign_clusters import (  # noqa: F401 - names_path re-exported
    clusters_path,
    key_order,
    load_names,
    matrix_from_keys,
    names_path,
)
from slicelens.attributes.base import read_yaml_or_json
from slicelens.attributes.matrix import AttributeMatrix
from slicelens.errors import DataError, WorkspaceError


def save_names(run_dir, names: dict[str, dict[str, str]]) -> Path:
    from slicelens.atomic import write_json

    p = names_path(run_dir)
    write_json(p, names)
    return p


def read_naming_file(path) -> dict[str, dict[str, str]]:
    """Read and check a naming file (YAML / JSON); empty names are dropped."""
    path = Path(path)
    d = read_yaml_or_json(path, "naming file")
    if not isinstance(d, dict):
        raise DataError("a naming file maps each attribute to {cluster: name}", file=str(path))
    out: dict[str, dict[str, str]] = {}
    for attr, m in d.items():
        if not isinstance(m, dict):
            raise DataError(f"attribute {attr!r}: expected a mapping cluster -> name",
                            file=str(path), field=str(attr))
        out[str(attr)] = {str(k): str(v).strip() for k, v in m.items()
                          if v is not None and str(v).strip()}
    return out


def write_naming_file(path, table: pd.DataFrame, names: dict | None = None) -> Path:
    """A naming template: one entry per cluster, its current name (or ``""``), with its
    class, size and example ids as comments (YAML) - the file a person fills in."""
    from slicelens.atomic import write_bytes

    names = names or {}
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        lines = ["# name each cluster once after looking at its examples; empty = unnamed"]
        for attr, t in table.groupby("attribute", sort=False):
            lines.append(f"{json.dumps(str(attr))}:")
            for r in t.itertuples():
                lines.append(f"  # {r.size} samples; examples: {', '.join(r.examples[:6])}")
                lines.append(f"  {json.dumps(r.key)}: "
                             f"{json.dumps(names.get(attr, {}).get(r.key, ''))}")
        text = "\n".join(lines) + "\n"
    else:
        text = json.dumps({str(a): {k: names.get(a, {}).get(k, "") for k in t["key"]}
                           for a, t in table.groupby("attribute", sort=False)}, indent=1)
    write_bytes(path, text.encode())
    return path


def apply_names(keys: pd.DataFrame, names: dict) -> AttributeMatrix:
    """The cluster attributes' matrix with ``names`` applied (unnamed keys stay)."""
    return matrix_from_keys(keys, names)


def cluster_keys(run_dir) -> pd.DataFrame:
    """The stored cluster of every sample (``id, attribute, key, score``)."""
    p = clusters_path(run_dir)
    if not p.exists():
        raise WorkspaceError("this run has no clusters; give an attribute `backend: clusters` "
                             "and run `slicelens attributes assign`")
    return pd.read_parquet(p)


def cluster_table(run_dir, n_examples: int = 9) -> pd.DataFrame:
    """One row per cluster: ``attribute, key, name, size, examples`` (the ids of its most
    typical members, highest score first) - what a person looks at to name it."""
    keys, names = cluster_keys(run_dir), load_names(run_dir)
    rows = []
    for (attr, key), t in keys.groupby(["attribute", "key"], sort=False):
        top = t.sort_values("score", ascending=False, kind="stable")["id"].astype(str)
        rows.append({"attribute": str(attr), "key": str(key),
                     "name": names.get(str(attr), {}).get(str(key), ""), "size": len(t),
                     "examples": top.head(n_examples).tolist()})
    out = pd.DataFrame(rows)
    order = sorted(range(len(out)), key=lambda i: (out["attribute"][i], key_order(out["key"][i])))
    return out.iloc[order].reset_index(drop=True)


def rename_matrix(run_dir, names: dict[str, dict[str, str]]) -> AttributeMatrix:
    """Check ``names`` against the stored clusters, store them and rewrite the cluster
    attributes of the stored matrix with them (other attributes are kept)."""
    keys = cluster_keys(run_dir)
    known = {a: set(t["key"].astype(str)) for a, t in keys.groupby("attribute")}
    for attr, m in names.items():
        if attr not in known:
            raise DataError(f"attribute {attr!r} has no clusters; clustered: {sorted(known)}",
                            field=attr)
        bad = sorted(set(m) - known[attr])
        if bad:
            raise DataError(f"attribute {attr!r} has no cluster {bad[0]!r}", field=attr)
    merged = {**load_names(run_dir), **names}
    matrix = AttributeMatrix.load(run_dir)
    clustered = set(known)
    rest = matrix.table[~matrix.table["attribute"].astype(str).isin(clustered)]
    named = apply_names(keys, merged)
    values = {a: (named.values[a] if a in clustered else v) for a, v in matrix.values.items()}
    out = AttributeMatrix(pd.concat([rest, named.table], ignore_index=True), values)
    save_names(run_dir, merged)
    out.save(run_dir)
    return out


def majority_names(keys: pd.DataFrame, truth: pd.Series, word=str,
                   majority: float = 0.5) -> dict[str, str]:
    """A simulated person: each cluster named by the value of ``truth`` (indexed by id)
    held by more than ``majority`` of its members; no such value -> unnamed.

    Used by the benchmarks and the demo only (it reads hidden ground truth, as scripted
    marks do).
    """
    out = {}
    for key, t in keys.groupby("key", sort=False):
        v = truth.reindex(t["id"].astype(str)).dropna()
        if len(v) == 0:
            continue
        share = v.value_counts(normalize=True)
        if share.iloc[0] > majority and (len(share) < 2 or share.iloc[1] < share.iloc[0]):
            out[str(key)] = word(share.index[0])
    return out

