"""The offline taggers of issue 13: explained-region statistics (``region-stats``) and
feature clusters per class named once per cluster (``clusters``, the naming file)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_attributes_fixtures import make_run

from slicelens.attributes import ASSIGNERS
from slicelens.attributes.assign_clusters import is_default_name
from slicelens.attributes.assign_region import region_attributes, region_measures
from slicelens.attributes.assign_stats import PALETTE
from slicelens.attributes.base import Attribute, AttributeSpec, load_backends
from slicelens.attributes.cluster_names import (
    cluster_table,
    majority_names,
    read_naming_file,
    write_naming_file,
)
from slicelens.attributes.enrichment import enriched_values, top_conditions
from slicelens.attributes.matrix import AttributeMatrix
from slicelens.data.arrays import from_arrays
from slicelens.errors import DataError
from slicelens.pipeline.attributes import assign_attributes, name_clusters


def _half_images(n: int) -> np.ndarray:
    """Left half red, right half blue, a small white square in the right half."""
    imgs = np.zeros((n, 16, 16, 3), np.uint8)
    imgs[:, :, :8] = (200, 40, 40)
    imgs[:, :, 8:] = (40, 70, 200)
    imgs[:, 6:10, 11:15] = 255
    return imgs


def _left_maps(n: int) -> np.ndarray:
    m = np.zeros((n, 4, 4), np.float16)
    m[:, :, :2] = 1 / 8
    return m


def test_new_taggers_are_registered_with_the_family_contract():
    load_backends()
    for name in ("region-stats", "clusters"):
        cls = ASSIGNERS[name]
        assert cls.name == name and cls.Params is not None and isinstance(cls.requires, tuple)
        assert callable(cls.assign) and callable(cls.supports)
    assert all(ASSIGNERS["region-stats"]().supports(a) for a in region_attributes())
    assert ASSIGNERS["clusters"]().supports(Attribute("kind", backend="clusters"))
    assert not ASSIGNERS["clusters"]().supports(Attribute("kind", backend="clusters",
                                                          measure="maps"))


def test_region_measures_follow_the_attribution_map():
    maps = _left_maps(2)
    maps[1] = maps[1, :, ::-1]  # the second map looks at the right half, with the square
    meas = region_measures(_half_images(2), maps)
    names = list(PALETTE)
    assert names[meas["explained_colour"][0]] == "red"  # the map covers the red half
    assert names[meas["rest_colour"][0]] == "blue"
    assert names[meas["explained_colour"][1]] == "blue"
    assert meas["looks_at"][1] > 2 * meas["looks_at"][0]  # the white square is on the right
    assert meas["brightness_contrast"][1] > meas["brightness_contrast"][0]


def test_region_stats_assigner_through_assign_attributes(tmp_path):
    n = 12
    imgs = _half_images(n)
    maps = _left_maps(n)
    maps[6:] = maps[6:, :, ::-1]  # half the maps look at the right (blue, the square)
    run = make_run(tmp_path, np.zeros(n, int), np.zeros(n, int), ["val"] * n, maps=maps)
    ds = from_arrays(imgs, np.zeros(n, int), ["a", "b"], splits="val",
                     ids=run.samples["id"].to_numpy(str))
    m = assign_attributes(run, spec=AttributeSpec(region_attributes()), dataset=ds)
    w = m.wide(run.samples["id"])
    assert (w["explained colour"][:6] == "red").all() and (w["explained colour"][6:] != "red").all()
    assert (w["model looks at"][:6] == "the background").all()
    assert (w["model looks at"][6:] == "the object").all()
    assert m.table["score"].between(0, 1).all()
    with pytest.raises(DataError, match="region-stats backend cannot measure"):
        assign_attributes(run, spec=AttributeSpec([Attribute("x", backend="region-stats",
                                                             measure="mood")]),
                          dataset=ds, force=True)


def _planted_run(tmp_path):
    """Two classes of 60; in class 0 the first 15 ("sevens") sit apart in feature space."""
    rng = np.random.default_rng(0)
    n = 120
    label = np.r_[np.zeros(60, int), np.ones(60, int)]
    feats = rng.normal(size=(n, 8)).astype(np.float32)
    feats[:15, :3] += 6.0
    truth = pd.Series(np.where(np.arange(n) < 15, 7, np.where(label == 0, 1, 5)),
                      index=[f"s{i:04d}" for i in range(n)])
    run = make_run(tmp_path, label, label, ["val"] * n, features=feats)
    ds = from_arrays(np.zeros((n, 8, 8, 3), np.uint8), label, ["a", "b"], splits="val",
                     ids=run.samples["id"].to_numpy(str))
    return run, truth, ds


def test_cluster_tagger_names_a_planted_subgroup(tmp_path):
    run, truth, ds = _planted_run(tmp_path)
    spec = AttributeSpec([Attribute("digit", backend="clusters", phrase="{value}s")],
                         object="digit")
    m = assign_attributes(run, spec=spec, dataset=ds, backend_params={"n_clusters": 3})
    assert all(is_default_name(v) for v in m.values["digit"])  # unnamed until named
    table = cluster_table(run.path)
    assert table["size"].sum() == 120 and set(table["key"]) == set(m.values["digit"])
    from slicelens.attributes.cluster_names import cluster_keys

    names = majority_names(cluster_keys(run.path), truth, lambda d: ["seven", "one", "five"][
        {7: 0, 1: 1, 5: 2}[int(d)]])
    m = name_clusters(run, {"digit": names})
    w = m.wide(run.samples["id"])
    assert (w["digit"][:15] == "seven").all() and (w["digit"][15:] != "seven").all()
    # enrichment then describes the planted sub-group in words
    codes, _ = m.codes(run.samples["id"])
    in_slice = np.arange(120) < 15
    cond = top_conditions(enriched_values(codes, in_slice, np.arange(120) < 60, m.attributes,
                                          m.values))
    assert cond == {"digit": "seven"}


def _shape_images(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Plus signs and square rings of random size and place on a noisy grey ground;
    (images uint8 (n, 24, 24, 3), shape 0 = plus / 1 = ring)."""
    imgs = rng.integers(60, 90, size=(n, 24, 24, 3)).astype(np.uint8)
    kind = rng.integers(0, 2, n)
    for i in range(n):
        side = int(rng.integers(10, 19))
        y, x = rng.integers(1, 24 - side, 2)
        t = max(2, side // 4)
        box = imgs[i, y:y + side, x:x + side]
        if kind[i] == 0:
            box[(side - t) // 2:(side + t) // 2] = 250
            box[:, (side - t) // 2:(side + t) // 2] = 250
        else:
            box[:] = 250
            box[t:side - t, t:side - t] = imgs[i, 0, 0]
    return imgs, kind


def test_shape_clusters_name_the_object_form_the_features_do_not_see(tmp_path):
    """``measure: shape`` clusters the foreground's HOG: two forms of random size and
    place in one class fall into two clusters, while clusters of uninformative features
    (``fw``) mix them; the names a person gives then describe the form."""
    rng = np.random.default_rng(1)
    n = 160
    imgs, kind = _shape_images(n, rng)
    label = np.zeros(n, int)
    run = make_run(tmp_path, label, label, ["val"] * n,
                   features=rng.normal(size=(n, 8)).astype(np.float32))
    ds = from_arrays(imgs, label, ["a", "b"], splits="val", ids=run.samples["id"].to_numpy(str))
    spec = AttributeSpec([Attribute("form", backend="clusters", measure="shape"),
                          Attribute("kind", backend="clusters", measure="fw")])
    m = assign_attributes(run, spec=spec, dataset=ds, backend_params={"n_clusters": 2})
    w = m.wide(run.samples["id"])

    def purity(col):
        t = pd.crosstab(w[col].to_numpy(), kind)
        return t.max(axis=1).sum() / n

    assert purity("form") >= 0.9, pd.crosstab(w["form"].to_numpy(), kind)
    assert purity("kind") < 0.75
    from slicelens.attributes.cluster_names import cluster_keys

    keys = cluster_keys(run.path)
    names = majority_names(keys[keys["attribute"] == "form"],
                           pd.Series(kind, index=run.samples["id"].to_numpy(str)),
                           lambda k: ["plus", "ring"][int(k)])
    assert sorted(names.values()) == ["plus", "ring"]
    w = name_clusters(run, {"form": names}).wide(run.samples["id"])
    assert ((w["form"] == "ring").to_numpy() == (kind == 1)).mean() >= 0.9
    # the defaults per measure, and a clear error for a measure the backend lacks
    from slicelens.attributes.assign_clusters import DEFAULT_CLUSTERS

    assert DEFAULT_CLUSTERS["shape"] > DEFAULT_CLUSTERS["fw"]
    with pytest.raises(DataError, match="cannot cluster"):
        assign_attributes(run, spec=AttributeSpec([Attribute("x", backend="clusters",
                                                             measure="smell")]),
                          dataset=ds, force=True)


def test_naming_file_round_trip(tmp_path):
    run, _, ds = _planted_run(tmp_path)
    from slicelens.attributes.cluster_names import cluster_keys
    from slicelens.attributes.matrix import from_codes

    m = assign_attributes(run, spec=AttributeSpec([Attribute("digit", backend="clusters")]),
                          dataset=ds, backend_params={"n_clusters": 2})
    ids = run.samples["id"].to_numpy(str)
    AttributeMatrix.concat([m, from_codes(ids, "blur", ["sharp", "blurred"],
                                          np.arange(120) % 2, np.ones(120))]).save(run.path)
    for suffix in (".yaml", ".json"):
        path = write_naming_file(tmp_path / f"names{suffix}", cluster_table(run.path))
        assert read_naming_file(path) == {"digit": {}}  # every name empty in the template
        text = path.read_text()
        if suffix == ".yaml":
            assert "examples: s0" in text  # a person sees which images to look at
            text = text.replace('"cluster 1 of class a": ""', '"cluster 1 of class a": "plain"')
        else:
            d = json.loads(text)
            d["digit"]["cluster 1 of class a"] = "plain"
            text = json.dumps(d)
        path.write_text(text)
        assert read_naming_file(path) == {"digit": {"cluster 1 of class a": "plain"}}
        out = name_clusters(run, path)
        keys = cluster_keys(run.path)
        first = keys.loc[keys["key"] == "cluster 1 of class a", "id"]
        assert (out.wide(first)["digit"] == "plain").all()
        assert "cluster 2 of class a" in out.values["digit"]  # unnamed keeps its default
        assert out.values["blur"] == ["sharp", "blurred"]  # other attributes untouched
        # the template shows the stored name next time
        again = write_naming_file(tmp_path / f"again{suffix}", cluster_table(run.path),
                                  {"digit": {"cluster 1 of class a": "plain"}})
        assert read_naming_file(again)["digit"] == {"cluster 1 of class a": "plain"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"digit": {"cluster 9 of class z": "x"}}))
    with pytest.raises(DataError, match="no cluster 'cluster 9 of class z'"):
        name_clusters(run, bad)
    bad.write_text(json.dumps({"digit": ["x"]}))
    with pytest.raises(DataError, match="expected a mapping"):
        read_naming_file(bad)


def test_cli_writes_a_naming_template_and_reads_it_back(tmp_path, capsys, monkeypatch):
    import argparse

    from slicelens.cli import attributes as cli

    run, _, ds = _planted_run(tmp_path)
    assign_attributes(run, spec=AttributeSpec([Attribute("kind", backend="clusters")]),
                      dataset=ds, backend_params={"n_clusters": 2})

    def call(*argv):
        p = argparse.ArgumentParser()
        cli.add_arguments(p)
        return cli.run(p.parse_args(["--workspace", str(tmp_path), *argv]))

    names = tmp_path / "names.yaml"
    assert call("clusters", "--out", str(names)) == 0
    assert "cluster 2 of class b" in capsys.readouterr().out
    names.write_text(names.read_text().replace('"cluster 2 of class b": ""',
                                               '"cluster 2 of class b": "odd ones"'))
    assert call("name", "--names", str(names)) == 0
    out = capsys.readouterr().out
    assert "odd ones" in out and "(unnamed)" in out
    assert "odd ones" in AttributeMatrix.load(run.path).values["kind"]
    # backend parameters from the command line: three clusters per class
    from slicelens.pipeline.attributes import save_spec

    save_spec(run, AttributeSpec([Attribute("kind", backend="clusters")]))
    from slicelens.store.run import Run

    monkeypatch.setattr(Run, "dataset", lambda self: ds)  # in-memory arrays: no manifest
    assert call("assign", "--force", "--set", "n_clusters=3") == 0
    assert cluster_table(run.path)["key"].nunique() == 6  # 3 in each of the 2 classes
