"""AACA concept annotation: seeds with uncertain saliency, answers (CLI or crowd CSV),
the per-class confounded / valid sets, and concept alignment.

Sub-commands:
  seeds      pick seed images per class (misclassified first) and write each with its
             integrated-gradients saliency and the MC-dropout-ambiguous regions
  annotate   store one answer (confounded and valid concepts) on one image; --list,
             --undo ID, --redo ID, --history ID
  import     store every answer of a crowd CSV (worker_id,image_id,confounded,valid,time)
  export     write the task CSV for a labelling tool (--task) or the stored answers
  summary    per class C and V after pre-test, synonym unification and majority vote
  alignment  concept distributions of validation / initial / augmented training and JSD

Examples:
  slicelens concepts seeds --per-class 20 --out concepts
  slicelens concepts annotate --image val/00012.png --confounded "brick" --valid "digit"
  slicelens concepts import crowd.csv
  slicelens concepts export --task concepts/task.csv
  slicelens concepts summary --gold gold.csv
  slicelens repair --strategy aaca --variant sel --set oracle=labels.csv
  slicelens concepts alignment --repaired run-0004-aaca --out concepts
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from slicelens.cli.common import add_run, add_workspace, table

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace

HELP = "AACA concept annotation: seeds, answers, crowd CSV, C / V summary, alignment (JSD)"
ACTIONS = ("seeds", "annotate", "import", "export", "summary", "alignment")


def add_arguments(p):
    add_workspace(p)
    add_run(p)
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("csv", nargs="?", default=None, help="import: the crowd CSV")
    p.add_argument("--out", default="concepts", help="output folder (default: ./concepts)")
    g = p.add_argument_group("seeds")
    g.add_argument("--per-class", type=int, default=20, help="seed images per class (default 20)")
    g.add_argument("--split", default="val", help="split to seed from (default: val)")
    g.add_argument("--slice", dest="slice_id", default=None, help="only members of this slice")
    g.add_argument("--slicer", default="auto",
                   help="slice set of --slice ('auto': the run's preferred stored set)")
    g.add_argument("--confusion", default=None, metavar="TRUE,PRED", help="only this confusion cell")
    g.add_argument("--passes", type=int, default=8, help="MC-dropout passes (default 8)")
    g.add_argument("--dropout", type=float, default=0.5, help="MC dropout rate (default 0.5)")
    g.add_argument("--tau", type=float, default=0.1, help="ambiguity threshold on the "
                   "normalised variance (default 0.1)")
    g.add_argument("--steps", type=int, default=16, help="integrated-gradients steps")
    g.add_argument("--baseline", type=float, default=0.0, help="IG baseline value (default 0: black)")
    g = p.add_argument_group("annotate")
    g.add_argument("--image", default=None, help="image id")
    g.add_argument("--confounded", default="", help="confounded concepts, ';'-separated")
    g.add_argument("--valid", default="", help="valid concepts, ';'-separated")
    g.add_argument("--author", default="anonymous", help="annotator")
    g.add_argument("--seconds", type=float, default=None, help="time taken")
    g.add_argument("--list", action="store_true", help="list stored answers (with --all: undone too)")
    g.add_argument("--all", action="store_true")
    g.add_argument("--undo", type=int, metavar="ID")
    g.add_argument("--redo", type=int, metavar="ID")
    g.add_argument("--history", type=int, metavar="ID")
    g = p.add_argument_group("export / summary / alignment")
    g.add_argument("--task", default=None, help="export: write the annotation task CSV here")
    g.add_argument("--answers", default=None, help="export: write the stored answers here")
    g.add_argument("--gold", default=None, help="summary: gold CSV (image_id,confounded,valid)")
    g.add_argument("--min-accept", type=float, default=0.8, help="pre-test acceptance rate (0.8)")
    g.add_argument("--top", type=int, default=10, help="concepts kept per class (10)")
    g.add_argument("--synonym-threshold", type=float, default=0.75,
                   help="MiniLM cosine to unify synonyms (0.75); negative: off")
    g.add_argument("--keep-apart", action="append", default=[], help="undo the merge of a word")
    g.add_argument("--repaired", default=None, help="alignment: the repaired run id")
    g.add_argument("--budget", type=int, default=None,
                   help="alignment: images per class for the reachable-JSD bound "
                        "(default: the repair's k)")


def run(args) -> int:
    from slicelens.cli.common import open_run

    ws, run_ = open_run(args)
    return {"seeds": _seeds, "annotate": _annotate, "import": _import, "export": _export,
            "summary": _summary, "alignment": _alignment}[args.action](args, ws, run_)


def _seeds(args, ws: Workspace, run_) -> int:
    from slicelens.pipeline.concepts import make_seeds

    conf = tuple(args.confusion.split(",", 1)) if args.confusion else None
    seeds = make_seeds(run_, args.out, args.per_class, args.split, args.slice_id, args.slicer,
                       conf, passes=args.passes, p=args.dropout, tau=args.tau, steps=args.steps,
                       baseline=args.baseline)
    print(table([{"image": s["image_id"], "class": s["class"], "predicted": s["predicted"],
                  "ambiguous regions": len(s["regions"]), "ambiguous share": s["ambiguous_share"]}
                 for s in seeds]))
    print(f"\n{len(seeds)} seeds in {args.out}/ (image | saliency | ambiguous regions, "
          f"tau {args.tau}); seeds.json lists them")
    return 0


def _annotate(args, ws: Workspace, run_) -> int:
    from slicelens.concepts import store
    from slicelens.concepts.answers import ConceptAnswer, split_concepts
    from slicelens.concepts.runio import class_of_samples
    from slicelens.errors import SliceLensError

    if args.list or args.all:
        rows = store.list_answers(ws, run_, include_undone=args.all)
        print(table([_row(a) for a in rows]))
        return 0
    if args.history is not None:
        print(table([{"at": e.at[:19], "action": e.action, "author": e.author,
                      "change": json.dumps(e.payload)} for e in store.answer_history(ws, args.history)]))
        return 0
    if args.undo is not None or args.redo is not None:
        f = store.undo_answer if args.undo is not None else store.redo_answer
        print(table([_row(f(ws, args.undo if args.undo is not None else args.redo, args.author))]))
        return 0
    if not args.image:
        raise SliceLensError("give --image and --confounded / --valid (or --list, --undo, "
                             "--redo, --history)")
    labels = class_of_samples(run_)
    if args.image not in labels:
        raise SliceLensError(f"image {args.image!r} is not a labelled sample of run {run_.id}")
    a = ConceptAnswer(args.author, args.image, labels[args.image], split_concepts(args.confounded),
                      split_concepts(args.valid), args.seconds)
    print(table([_row(store.save_answer(ws, run_, a))]))
    return 0


def _row(a) -> dict:
    d = json.loads(a.description)
    return {"id": a.id, "image": a.target_id, "class": d.get("label"), "author": a.author,
            "confounded": "; ".join(d.get("confounded", [])), "valid": "; ".join(d.get("valid", [])),
            "status": a.status, "updated": a.updated_at[:19]}


def _import(args, ws: Workspace, run_) -> int:
    from slicelens.errors import SliceLensError
    from slicelens.pipeline.concepts import import_crowd

    if not args.csv:
        raise SliceLensError("give the crowd CSV: slicelens concepts import FILE.csv")
    print(f"imported {import_crowd(ws, run_, args.csv)} answers from {args.csv} into run {run_.id}")
    return 0


def _export(args, ws: Workspace, run_) -> int:
    from slicelens.concepts.crowd import write_task
    from slicelens.pipeline.concepts import export_answers, read_seeds

    task = args.task or (None if args.answers else f"{args.out}/task.csv")
    if task:
        print(f"task of {len(read_seeds(args.out))} seed images: {write_task(task, read_seeds(args.out))}")
    if args.answers:
        print(f"answers: {export_answers(ws, run_, args.answers)}")
    return 0


def _summary(args, ws: Workspace, run_) -> int:
    from slicelens.concepts.runio import concept_summary

    s = concept_summary(ws, run_, args.gold, min_accept=args.min_accept, top=args.top,
                        synonym_threshold=None if args.synonym_threshold < 0 else args.synonym_threshold,
                        keep_apart=args.keep_apart)
    print("annotators (pre-test):")
    print(table([{"worker": w, "gold answered": r["gold_answered"], "accepted": r["accepted"],
                  "rate": "-" if r["rate"] is None else f"{r['rate']:.0%}",
                  "counted": "yes" if r["passed"] else "no"} for w, r in s["workers"].items()]))
    for cls, e in s["classes"].items():
        print(f"\nclass {cls}: {e['answers']} answers by {e['annotators']} annotators")
        for key, name in (("C", "confounded"), ("V", "valid")):
            print(f"  {name} set {key}: " + ", ".join(
                f"{x['concept']} ({x['count']}, {x['agreement']:.0%})" for x in e[key]))
    if s["merges"]:
        print(f"\nsynonyms unified (MiniLM cosine >= {s['settings']['synonym_threshold']}; "
              "undo one with --keep-apart WORD):")
        print(table(s["merges"]))
    return 0


def _alignment(args, ws: Workspace, run_) -> int:
    from slicelens.pipeline.concepts import alignment_report

    rep = alignment_report(run_, ws.run(args.repaired) if args.repaired else None, args.out,
                           args.top, budget=args.budget)
    rows = [{"concept": c, "validation": v, "initial": i, **({"augmented": a} if "aug" in rep else {})}
            for c, v, i, a in zip(rep["concepts"], rep["val"], rep["init"],
                                  rep.get("aug", rep["init"]), strict=True)]
    print(table(rows))
    print(f"\nJS divergence (bits; SciPy's jensenshannon is its square root): "
          f"init||val {rep['jsd_init_val']:.4f}" + (
              f", aug||val {rep['jsd_aug_val']:.4f} (fall {rep['jsd_fall']:.0%})"
              if rep.get("jsd_aug_val") is not None and "jsd_fall" in rep else ""))
    b = rep.get("bound")
    if b is not None and "skipped" in b:
        print(f"reachable-JSD bound: {b['skipped']}")
    elif b is not None:
        fall = "" if b.get("fall") is None else f" (fall {b['fall']:.0%})"
        print(f"reachable at k = {b['k']} per class from the repair's {b['candidates']} "
              f"candidates: aug||val {b['jsd']:.4f}{fall}\n  ({b['method']})")
        if b.get("lower") is not None:
            most = "" if b.get("fall_at_most") is None else f" (fall at most {b['fall_at_most']:.0%})"
            print(f"no choice of {b['k']} of them per class goes below aug||val "
                  f"{b['lower']:.4f}{most}\n  ({b['lower_method']})")
    bpc = (b or {}).get("per_class", {})
    per = [{"class": c, "init||val": r.get("jsd_init_val"), "aug||val": r.get("jsd_aug_val"),
            **({"reachable (greedy)": bpc.get(c, {}).get("jsd"),
                "lower bound": bpc.get(c, {}).get("lower")} if bpc else {}),
            "note": r.get("skipped", "")} for c, r in rep["per_class"].items()]
    print(f"\nper class (tagger: {rep['tagger']}):")
    print(table(per))
    print(f"chart: {rep['chart']}")
    return 0
