"""AACA on a run: seeds with saliency, answers stored like marks (history, undo, one row
per image and annotator), crowd CSV import with row/field errors and export, the C / V
summary, the aaca repair (app / sel, pool and compositor) and concept alignment."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from demo_bed import fast_demo_run

from slicelens.cli import main
from slicelens.concepts import store
from slicelens.concepts.answers import ConceptAnswer
from slicelens.errors import DataError, SliceLensError
from slicelens.repair.base import get_repair
from slicelens.store import Workspace


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    from slicelens.demo import hibug
    from slicelens.demo.aaca import simulate_crowd
    from slicelens.pipeline.concepts import pick_seeds

    st = fast_demo_run(tmp_path_factory.mktemp("concepts") / "ws", epochs=2)
    hibug.step_hibug_attributes(st)
    st.seeds = pick_seeds(st.run, 4)
    st.answers, st.gold = simulate_crowd(st.run, st.paths.ground_truth, st.seeds, workers=5,
                                         spammers=1, gold_items=3, slip=0.0)
    return st


def _write(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return str(path)


def test_seeds_misclassified_first_with_saliency(bed, tmp_path):
    from slicelens.pipeline.concepts import make_seeds

    s = bed.run.samples.set_index("id")
    seeds = make_seeds(bed.run, tmp_path, per_class=3, passes=3, steps=4)
    assert len(seeds) == 6
    for cls in bed.run.classes:
        mine = [x for x in seeds if x["class"] == cls]
        flags = [not x["correct"] for x in mine]
        assert flags == sorted(flags, reverse=True)  # wrong ones come first
        wrong = ~s["correct"].to_numpy(dtype=bool, na_value=True)
        n_wrong = int(((s["split"] == "val") & (s["label"] == bed.run.classes.index(cls))
                       & wrong).sum())
        assert sum(flags) == min(3, n_wrong)
    meta = json.loads((tmp_path / "seeds.json").read_text())
    assert meta["tau"] == 0.1 and meta["dropout"] == "1 dropout layer(s) of the model"  # SmallCNN
    assert (tmp_path / seeds[0]["image"]).exists()
    # the task for an external labelling tool: one row per seed, empty answer columns
    from slicelens.concepts.crowd import write_task

    with open(write_task(tmp_path / "task.csv", seeds)) as f:
        rows = list(csv.DictReader(f))
    assert [r["image_id"] for r in rows] == [x["image_id"] for x in seeds]
    assert rows[0]["confounded"] == rows[0]["valid"] == "" and rows[0]["saliency"]


def test_answers_one_row_per_image_and_annotator_with_history(bed, tmp_path):
    ws = Workspace(tmp_path / "ws")
    img = bed.seeds[0]
    cls = bed.run.classes[int(bed.run.samples.set_index("id").loc[img, "label"])]
    a1 = store.save_answer(ws, bed.run, ConceptAnswer("ana", img, cls, ["brick"], ["digit"]))
    a2 = store.save_answer(ws, bed.run, ConceptAnswer("ana", img, cls, ["bricks"], ["digit"]))
    b = store.save_answer(ws, bed.run, ConceptAnswer("bo", img, cls, ["grass"], []))
    assert a1.id == a2.id != b.id
    assert [x.confounded for x in store.answers(ws, bed.run)] == [["bricks"], ["grass"]]
    assert [e.action for e in store.answer_history(ws, a1.id)] == ["create", "edit"]
    store.undo_answer(ws, a1.id, "ana")
    assert [x.worker for x in store.answers(ws, bed.run)] == ["bo"]
    store.redo_answer(ws, a1.id, "ana")
    assert len(store.answers(ws, bed.run)) == 2
    with pytest.raises(DataError, match="not a sample"):
        store.save_answer(ws, bed.run, ConceptAnswer("ana", "nope.png", cls, ["x"], []))


def test_crowd_csv_import_errors_name_row_and_field(bed, tmp_path):
    from slicelens.pipeline.concepts import import_crowd

    ws = Workspace(tmp_path / "ws")
    img = bed.seeds[0]
    bad = _write(tmp_path / "bad.csv", [["worker_id", "image_id", "confounded", "valid", "time"],
                                        ["w1", img, "brick", "digit", "12"],
                                        ["w2", img, "brick", "digit", "soon"]])
    with pytest.raises(DataError, match=r"row 3.*field 'time'"):
        import_crowd(ws, bed.run, bad)
    assert store.answers(ws, bed.run) == []  # nothing from a file with an error
    for rows, where in (([["w1", "zzz.png", "a", "b", ""]], r"row 2.*field 'image_id'"),
                        ([["w1", img, "", "", ""]], r"row 2.*field 'confounded'")):
        with pytest.raises(DataError, match=where):
            import_crowd(ws, bed.run, _write(tmp_path / "b2.csv", [["worker_id", "image_id",
                                                                     "confounded", "valid", "time"], *rows]))
    with pytest.raises(DataError, match="missing column 'valid'"):
        import_crowd(ws, bed.run, _write(tmp_path / "b3.csv", [["worker_id", "image_id", "confounded"]]))


def test_cli_import_summary_export_annotate(bed, tmp_path, capsys):
    from slicelens.concepts.crowd import write_answers

    ws = Workspace(tmp_path / "ws")
    ws_arg = ["--workspace", str(bed.workspace.root)]
    # the bed's own workspace: import the simulated crowd there once
    crowd = write_answers(tmp_path / "crowd.csv", bed.answers)
    gold = _write(tmp_path / "gold.csv", [["image_id", "confounded", "valid"]] +
                  [[g.image_id, "; ".join(g.confounded), "; ".join(g.valid)] for g in bed.gold.values()])
    assert main(["concepts", "import", str(crowd), *ws_arg]) == 0
    assert f"imported {len(bed.answers)} answers" in capsys.readouterr().out
    assert main(["concepts", "summary", "--gold", gold, *ws_arg]) == 0
    out = capsys.readouterr().out
    assert "spam-04" in out and "no" in out.split("spam-04")[1].split("\n")[0]
    assert "synonyms unified" in out
    assert main(["concepts", "export", "--answers", str(tmp_path / "out.csv"), *ws_arg]) == 0
    capsys.readouterr()
    with open(tmp_path / "out.csv") as f:
        assert len(list(csv.DictReader(f))) == len(bed.answers)
    # annotate from the CLI, then undo
    assert main(["concepts", "annotate", "--image", bed.seeds[1], "--confounded", "brick",
                 "--valid", "digit", "--author", "cli", *ws_arg]) == 0
    lines = capsys.readouterr().out.splitlines()  # "run ... read", header, dashes, row
    row_id = int(lines[next(i for i, ln in enumerate(lines) if ln.startswith("--")) + 1].split()[0])
    assert main(["concepts", "annotate", "--undo", str(row_id), *ws_arg]) == 0
    assert "undone" in capsys.readouterr().out
    assert main(["concepts", "import", "--workspace", str(ws.root)]) == 2  # no CSV given
    del ws


def test_summary_finds_the_backgrounds(bed):
    from slicelens.concepts.quality import summarize

    s = summarize(bed.answers, bed.gold)
    assert {w for w, r in s["workers"].items() if not r["passed"]} == {"spam-04"}
    for e in s["classes"].values():
        top = [x["concept"] for x in e["C"][:2]]
        assert set(top) <= {"brick", "bricks", "brick wall", "grass", "lawn", "green grass"}
        assert e["V"][0]["concept"] in {"digit", "handwritten digit", "digit shape"}
        assert e["V"][0]["agreement"] == 1.0


def _answers_in(ws, bed):
    if not store.answers(ws, bed.run):
        for a in bed.answers:
            store.save_answer(ws, bed.run, a)


@pytest.mark.slow
def test_aaca_plans_sel_app_pool_and_compositor(bed, tmp_path):
    _answers_in(bed.workspace, bed)
    gold = _write(tmp_path / "gold.csv", [["image_id", "confounded", "valid"]] +
                  [[g.image_id, "; ".join(g.confounded), "; ".join(g.valid)] for g in bed.gold.values()])
    common = dict(k=5, candidates=15, oracle=str(bed.paths.ground_truth), oracle_column="true_label",
                  gold=gold)
    sel = get_repair("aaca").plan(bed.workspace, bed.run, variant="sel", **common)
    app = get_repair("aaca").plan(bed.workspace, bed.run, variant="app", **common)
    pool = set(bed.run.samples.query("split == 'pool'")["id"])
    for plan in (sel, app):
        assert len(plan.add) == 10 and set(plan.add) <= pool
        assert np.bincount(list(plan.add.values())).tolist() == [5, 5]
        assert all(p.startswith("a photo of ") and " containing " in p
                   for p in plan.params["prompts"].values())
    assert len(sel.params["scores"]) == 10 and not app.params.get("scores")
    assert sel.add != app.add
    assert sel.control().add == {}
    comp = get_repair("aaca").plan(bed.workspace, bed.run, variant="sel", source="compositor",
                                   k=3, candidates=6, gold=gold)
    with np.load(comp.extra_images) as z:
        assert z["images"].shape[0] == 6
    assert len(comp.params["prompts"]) == 6
    with pytest.raises(SliceLensError, match="oracle"):
        get_repair("aaca").plan(bed.workspace, bed.run, variant="sel", k=2)


def test_aaca_confounded_regions_count_for_the_label_or_the_predicted_class(bed, tmp_path):
    """Eq. 1's penalty of class s_n uses the seeds annotated with a confounder of C(s_n):
    with confounded_in="label" they count for their label (the paper); by default
    ("prediction") the same images count for the class the model predicted for them."""
    _answers_in(bed.workspace, bed)
    gold = _write(tmp_path / "gold.csv", [["image_id", "confounded", "valid"]] +
                  [[g.image_id, "; ".join(g.confounded), "; ".join(g.valid)] for g in bed.gold.values()])
    common = dict(variant="sel", k=3, candidates=6, oracle=str(bed.paths.ground_truth),
                  oracle_column="true_label", gold=gold)
    by_label = get_repair("aaca").plan(bed.workspace, bed.run, confounded_in="label",
                                       **common).params
    by_pred = get_repair("aaca").plan(bed.workspace, bed.run, **common).params  # the default
    s = bed.run.samples.set_index("id")
    classes = bed.run.classes
    ids = sorted(i for v in by_label["confounded_images"].values() for i in v)
    assert ids and ids == sorted(i for v in by_pred["confounded_images"].values() for i in v)
    for cls, members in by_label["confounded_images"].items():
        assert {classes[int(s.loc[i, "label"])] for i in members} == {cls}
    for cls, members in by_pred["confounded_images"].items():
        assert {classes[int(s.loc[i, "pred"])] for i in members} == {cls}
    # the seeds are misclassified first, so at least one image changes class
    assert by_label["confounded_images"] != by_pred["confounded_images"]
    assert by_pred["confounded_in"] == "prediction"


def test_aaca_sel_cross_entropy_ranks_by_the_loss_of_the_class(bed, tmp_path):
    """uncertainty="cross-entropy" (the default; the paper's "H refers to cross entropy"): with lambda = 1
    the score of a candidate is -ln p(its class | image), recomputed here from the run's
    model, and sel keeps the k candidates of each class with the highest such loss; the
    predictive-entropy reading records other scores."""
    from slicelens.concepts.runio import load_images, probs_of

    _answers_in(bed.workspace, bed)
    common = dict(variant="sel", k=3, candidates=9, lam=1.0, oracle=str(bed.paths.ground_truth),
                  oracle_column="true_label")
    ce = get_repair("aaca").plan(bed.workspace, bed.run, **common)  # the default
    ent = get_repair("aaca").plan(bed.workspace, bed.run, uncertainty="entropy", **common)
    assert ce.params["uncertainty"] == "cross-entropy" and ent.params["uncertainty"] == "entropy"
    cand = ce.params["candidate_ids"]
    ids = sorted(cand)
    probs = probs_of(bed.run, load_images(bed.run, ids))
    loss = {i: -np.log(max(float(probs[n, cand[i]]), 1e-12)) for n, i in enumerate(ids)}
    for i, score in ce.params["scores"].items():
        assert score == pytest.approx(loss[i], abs=1e-5)
    for c in set(cand.values()):
        mine = sorted((i for i in ids if cand[i] == c), key=lambda i: (-loss[i], ids.index(i)))
        assert {i for i, cl in ce.add.items() if cl == c} == set(mine[:3])
    assert ce.params["scores"] != ent.params["scores"]


@pytest.mark.slow
def test_alignment_report_and_chart(bed, tmp_path):
    from slicelens.pipeline.concepts import alignment_report

    rep = alignment_report(bed.run, None, tmp_path)
    assert 0 <= rep["jsd_init_val"] <= 1 and len(rep["concepts"]) == 10
    assert (tmp_path / "concept_alignment.png").stat().st_size > 1000
    assert sum(rep["val"]) == pytest.approx(1.0)
    assert set(rep["per_class"]) == set(bed.run.classes)
    one = rep["per_class"][bed.run.classes[0]]
    assert all(c.startswith(bed.run.classes[0] + ": ") for c in one["concepts"])
    assert 0 <= one["jsd_init_val"] <= 1


def test_cli_alignment_prints_per_class(bed, tmp_path, capsys):
    args = ["concepts", "alignment", "--out", str(tmp_path), "--workspace", str(bed.workspace.root),
            "--run", bed.run.id]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "per class (tagger: the run's attribute matrix)" in out and bed.run.classes[1] in out


def test_alignment_reports_the_reachable_jsd_bound_of_a_pool_repair(bed, tmp_path, capsys):
    """A pool-route AACA plan records its candidates D'_debug; the alignment report (and
    `concepts alignment`) give the greedy lowest JS(aug || val) that k of them per class
    could reach, computed from the same tags (slicelens.concepts.bound)."""
    from types import SimpleNamespace

    from slicelens.cli.concepts import _alignment
    from slicelens.concepts.bound import greedy_bound
    from slicelens.concepts.runio import concept_tags
    from slicelens.pipeline.concept_alignment import tag_sets
    from slicelens.pipeline.concepts import alignment_report

    _answers_in(bed.workspace, bed)
    plan = get_repair("aaca").plan(bed.workspace, bed.run, variant="sel", k=3, candidates=6,
                                   oracle=str(bed.paths.ground_truth), oracle_column="true_label")
    cands = plan.params["candidate_ids"]
    assert set(plan.add) <= set(cands) and len(cands) > len(plan.add)
    fake = SimpleNamespace(id="pool-sel", record={"plan": plan.to_json()})
    rep = alignment_report(bed.run, fake)
    b = rep["bound"]
    assert b["k"] == 3 and b["candidates"] == len(cands) and "greedy" in b["method"]
    sets = tag_sets(bed.run)
    ids, labels = list(cands), list(cands.values())
    want = greedy_bound(*sets["val"], *sets["init"], concept_tags(bed.run, ids, labels), labels, 3)
    assert b["jsd"] == pytest.approx(want["jsd"])
    assert b["jsd_init_val"] == pytest.approx(rep["jsd_init_val"])
    # the proven lower bound, from the same tags: never above the greedy value
    from slicelens.concepts.bound_lower import lower_bound
    low = lower_bound(*sets["val"], *sets["init"], concept_tags(bed.run, ids, labels), labels, 3)
    assert b["lower"] == pytest.approx(low["jsd"]) and b["lower"] <= b["jsd"] + 1e-12
    assert all(b["per_class"][c]["lower"] <= b["per_class"][c]["jsd"] + 1e-12
               for c in bed.run.classes if b["per_class"][c].get("jsd") is not None)
    assert set(b["per_class"]) == set(bed.run.classes)
    assert alignment_report(bed.run, fake, budget=0)["bound"]["jsd"] == pytest.approx(
        rep["jsd_init_val"])                                  # nothing added
    ws = SimpleNamespace(run=lambda _id: fake)
    args = SimpleNamespace(repaired="pool-sel", out=str(tmp_path), top=10, budget=None)
    assert _alignment(args, ws, bed.run) == 0
    out = capsys.readouterr().out
    assert f"reachable at k = 3 per class from the repair's {len(cands)} candidates" in out
    assert f"aug||val {b['jsd']:.4f}" in out and "reachable (greedy)" in out
    assert f"no choice of 3 of them per class goes below aug||val {b['lower']:.4f}" in out
    assert "lower bound" in out
    # a repair without recorded candidates (generated images, older plans) says so
    old = SimpleNamespace(id="old", record={"plan": {**plan.to_json(), "params": {"k": 3}}})
    assert "did not record its candidate" in alignment_report(bed.run, old)["bound"]["skipped"]


@pytest.mark.slow
def test_generated_images_are_tagged_from_their_pixels(bed):
    """Generated images get the run's own tagger (same spec and backends): a generated
    copy of a validation image gets that image's tags, and the alignment of a plan that
    generated images is computed, overall and per class, instead of refused."""
    from types import SimpleNamespace

    from slicelens.concepts.runio import load_images
    from slicelens.pipeline.concept_alignment import RETAGGED, retag_with_images
    from slicelens.pipeline.concepts import alignment_report
    from slicelens.repair.plan import TrainingPlan, new_plan_dir
    from slicelens.store.atomic import save_npz

    s = bed.run.samples
    val = s[(s["split"] == "val") & (s["label"] >= 0)]
    train = s[(s["split"] == "train") & (s["label"] >= 0)]
    copies = val["id"].astype(str).tolist()[:6]
    images = load_images(bed.run, copies)
    labels = val["label"].to_numpy(int)[:6]
    tv, ti, tg = retag_with_images(bed.run, val["id"], train["id"], images, labels)
    assert (len(tv), len(ti), len(tg)) == (len(val), len(train), 6)
    assert all(tg)  # every generated image gets concepts
    strip = lambda tags: [t for t in tags if not t.endswith("attention size")]  # noqa: E731
    assert [strip(t) for t in tg] == [strip(t) for t in tv[:6]]

    folder = new_plan_dir(bed.workspace, "aaca")
    save_npz(folder / "images.npz", images=images, labels=labels)
    plan = TrainingPlan(strategy="aaca", extra_images=str(folder / "images.npz"))
    rep = alignment_report(bed.run, SimpleNamespace(id="gen", record={"plan": plan.to_json()}))
    assert rep["tagger"] == RETAGGED and rep["added"] == 6
    assert rep["jsd_aug_val"] is not None and rep["aug"] != rep["init"]
    assert set(rep["per_class"]) == set(bed.run.classes)
    assert all(r["jsd_aug_val"] is not None for r in rep["per_class"].values())


@pytest.mark.slow
def test_alignment_of_stored_repairs_beside_their_control_via_the_api(bed, tmp_path):
    """An AACA repair (compositor: generated images) and its matched control, stored by
    ``run_repair``: the alignment route serves, per class and overall, the JSD before,
    after the repair and after the control, each equal to what the library computes."""
    from fastapi.testclient import TestClient

    from slicelens.models import TrainConfig
    from slicelens.pipeline.concept_alignment import RETAGGED, control_sets, report_of, tag_sets
    from slicelens.pipeline.concepts import alignment_report
    from slicelens.pipeline.repair import run_repair
    from slicelens.server import Settings, create_app

    client = TestClient(create_app(Settings(workspace=bed.workspace.root)),
                        base_url="http://127.0.0.1")
    url = f"/api/runs/{bed.run.id}/concepts/alignment"
    assert client.get(url).json()["repairs"] == []  # none stored yet
    _answers_in(bed.workspace, bed)
    _, new = run_repair(bed.workspace, bed.run, "aaca",
                        {"variant": "sel", "source": "compositor", "k": 3, "candidates": 6},
                        TrainConfig(epochs=1, patience=1, seed=0))
    body = client.get(url).json()
    assert body["detail"] is None and [r["run"] for r in body["repairs"]] == [new.id]
    got = body["repairs"][0]
    assert got["control"] == new.record["control_run"] and got["added"] == 3 * len(bed.run.classes)
    rep = alignment_report(bed.run, new)
    sets = tag_sets(bed.run, new)  # the control is tagged by its repair's tagger
    ctrl = report_of(bed.run, control_sets(sets, bed.workspace.run(got["control"])))
    assert got["tagger"] == rep["tagger"] == ctrl["tagger"] == RETAGGED
    # the control changes no data: its training set is the initial one, and so its JSD
    assert got["overall"]["control"] == pytest.approx(got["overall"]["before"])
    assert got["overall"]["before"] == pytest.approx(rep["jsd_init_val"])
    assert got["overall"]["after"] == pytest.approx(rep["jsd_aug_val"])
    assert got["overall"]["control"] == pytest.approx(ctrl["jsd_aug_val"])
    for row in got["classes"]:
        assert row["after"] == pytest.approx(rep["per_class"][row["class"]]["jsd_aug_val"])
        assert row["control"] == pytest.approx(ctrl["per_class"][row["class"]]["jsd_aug_val"])
    assert new.artifact_path("concept_alignment").exists()  # cached
    assert client.get(url).json() == body


def test_saliency_image_is_computed_once_and_served_from_the_run(bed, monkeypatch):
    """The saliency PNG is computed once per (run, image, method, parameters), stored in
    the run folder through the artifact table, and served again from there (same bytes),
    with an ETag (304 on If-None-Match) that changes with the run's creation time, and a
    Cache-Control that makes the browser revalidate (a run id can be reused)."""
    from fastapi.testclient import TestClient

    import slicelens.concepts.runio as runio
    from slicelens.server import Settings, create_app
    from slicelens.store.cache import cache_name

    client = TestClient(create_app(Settings(workspace=bed.workspace.root)),
                        base_url="http://127.0.0.1")
    run = bed.run
    calls = []
    real = runio.seed_saliency
    monkeypatch.setattr(runio, "seed_saliency", lambda *a, **k: calls.append(a) or real(*a, **k))
    img = run.samples.query("label >= 0")["id"].iloc[0]
    url = f"/api/runs/{run.id}/concepts/saliency"
    q = {"id": img, "size": 64, "passes": 3}
    first = client.get(url, params=q)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert len(calls) == 1
    assert "no-cache" in first.headers["cache-control"]
    assert "immutable" not in first.headers["cache-control"]
    etag = first.headers["etag"]
    stored = list(run.artifact_path("saliency_image", etag.strip('"')).parent.iterdir())
    assert [p.name for p in stored] == [etag.strip('"') + ".png"]
    second = client.get(url, params=q)
    assert len(calls) == 1                          # served from the run, not recomputed
    assert second.content == first.content and second.headers["etag"] == etag
    assert client.get(url, params=q, headers={"If-None-Match": etag}).status_code == 304
    assert len(calls) == 1
    # other parameters are another image, computed once too
    other = client.get(url, params={**q, "tau": 0.2})
    assert len(calls) == 2 and other.headers["etag"] != etag
    # the stored bytes are what a fresh computation gives (deterministic: seeded dropout)
    for p in stored:
        p.unlink()
    fresh = client.get(url, params=q)
    assert len(calls) == 3 and fresh.content == first.content
    assert etag.strip('"') == cache_name({"image": img, "method": "integrated-gradients, MC dropout",
                                          "target": "pred", "steps": 8, "passes": 3, "p": 0.5,
                                          "seed": 0, "tau": 0.1, "size": 64, "format": 1,
                                          "run_created": run.record.created_at})
    assert run.record.created_at  # a rebuilt run (same id, new creation time): another ETag
