"""Find slices of a run where the model fails, ranked, and store them in the run.

Slices are learned on one split (default: val), assigned to every other split, and
ranked by the upper end of the Wilson 95% interval of their accuracy (most problematic
first; small slices need more evidence to rank high; the error-aware slicer puts its
bug slices first). Each slice gets a bug type with its evidence and, when the run has
an attribute matrix, words: the attribute values enriched in it against the rest of its
class (Fisher exact test, Benjamini-Hochberg), with its confusion cell as second line. Each slicer's parameters are the
options below; an option of another slicer is an error.

Examples:
  slicelens slices --workspace ws
  slicelens slices --list                            # the stored slices, no recomputation
  slicelens slices --workspace ws --slicer error-clustering --n-slices 16
  slicelens slices --workspace ws --slicer error-aware
  slicelens slices --workspace ws --min-clusters 40 --segregate confusion
  slicelens slices --workspace ws --consistency      # the paper's Fig. 4 comparison
  slicelens slices --workspace ws --no-label-check   # skip the training-label check

Beside the slices of the split asked for, the command checks the TRAINING labels (the
``wrong-labels`` slicer fitted on the training split, stored as its own slice set):
labelling errors the model resisted make no errors on validation, yet they are a bug
of the data; its suspect groups are printed after the slices.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from slicelens.cli.common import add_deprecated, add_run, add_show, add_workspace

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

HELP = "find and rank the slices where the model fails (attribution space or baseline)"


def _slicer_params():
    from slicelens.slicing.base import SLICERS, _load_builtin_slicers

    _load_builtin_slicers()
    return {name: cls.Params for name, cls in sorted(SLICERS.items())}


def add_arguments(p):
    from slicelens.params import add_model_args
    from slicelens.slicing.base import DEFAULT_SLICER

    add_workspace(p)
    add_run(p)
    params = _slicer_params()
    p.add_argument("--slicer", default=None, choices=list(params),
                   help=f"slicing method (default: {DEFAULT_SLICER}; with --list: the run's "
                   "preferred stored slice set)")
    p.add_argument("--split", default="val", help="split the slices are learned on (default: val)")
    add_show(p, 20)
    p.add_argument("--list", action="store_true",
                   help="print the stored slices of --slicer (no recomputation; all stored "
                        "slice sets when it has none)")
    p.add_argument("--label-check", action=argparse.BooleanOptionalAction, default=None,
                   help="also find groups of suspect labels in the training split (the "
                        "wrong-labels slicer on train; default: on, unless the slices are "
                        "learned on train or are the wrong-labels slicer's)")
    p.add_argument("--consistency", action="store_true",
                   help="also print the neighbour consistency of the feature vs attribution "
                        "space (AttributionScanner Fig. 4)")
    seen: set[str] = set()
    for name, model in params.items():
        group = p.add_argument_group(f"{name} options")
        add_model_args(group, model, skip=tuple(seen), rename=_RENAME)
        seen |= set(model.model_fields)
    if any("alpha" in m.model_fields for m in params.values()):
        add_deprecated(p, "--alpha", "alpha", "--spurious-threshold", type=float)


#: one name per meaning: the spuriousness threshold is not a significance level
_RENAME = {"alpha": "spurious_threshold"}


def run(args) -> int:
    from slicelens.cli.common import open_run, table
    from slicelens.errors import SliceLensError
    from slicelens.params import from_args
    from slicelens.pipeline.slices import find_slices, space_consistency
    from slicelens.slicing.base import DEFAULT_SLICER
    from slicelens.slicing.runio import preferred_slicer

    params = _slicer_params()
    if args.slicer is None and not args.list:
        args.slicer = DEFAULT_SLICER
    model = params[args.slicer or DEFAULT_SLICER]
    foreign = sorted({f for m in params.values() for f in m.model_fields}
                     - set(model.model_fields))
    given = [f for f in foreign if getattr(args, f, None) is not None]
    if given:
        raise SliceLensError(f"--{given[0].replace('_', '-')} is not an option of the "
                             f"{args.slicer!r} slicer")
    ws, r = open_run(args)
    if args.list:
        args.slicer = args.slicer or preferred_slicer(r)
        return _list(ws, r, args)
    chosen = from_args(model, args).model_dump()
    slice_set = find_slices(r, args.slicer, chosen, split=args.split)
    _print_slices(slice_set, r, args)
    print(f"\nsaved in {r.artifact_path('slices', args.slicer)}")
    _label_check(r, args)
    _report_marks(ws, r, args.slicer)
    if args.consistency:
        print("\nNeighbour consistency (App. A-I): mean over points of their 10 nearest "
              "neighbours' feature cosine (A1) and inverse 2-D Wasserstein of maps (A2)")
        print(table(space_consistency(r, args.split).to_dict("records"), floatfmt=".4f"))
    print(f"\nNext: slicelens mosaic --workspace {args.workspace} --run {r.id} "
          f"--slicer {args.slicer}\n      slicelens annotate --help   (mark a slice core / "
          "spurious / wrong labels)")
    return 0


def _list(ws: Workspace, r, args) -> int:
    """The stored slice sets, read back as they are (nothing is recomputed)."""
    from slicelens.errors import WorkspaceError

    stored = r.stored_slicers()
    if not stored:
        raise WorkspaceError(f"run {r.id} has no stored slices; find them with `slicelens "
                             f"slices --run {r.id}`")
    if args.slicer not in stored:
        print(f"no stored {args.slicer!r} slices; stored: {', '.join(stored)} (--slicer NAME)")
        return 0
    slice_set = r.slices(args.slicer).slice_set
    _print_slices(slice_set, r, args, stored=True)
    from slicelens.pipeline.slices import LABEL_CHECK_SLICER

    if (args.slicer != LABEL_CHECK_SLICER and LABEL_CHECK_SLICER in stored
            and args.label_check is not False):
        _print_suspects(r.slices(LABEL_CHECK_SLICER).slice_set, r, args)
    print(f"\nstored slice sets: {', '.join(stored)}")
    _report_marks(ws, r, args.slicer)
    return 0


def _print_slices(slice_set, r, args, stored: bool = False) -> None:
    from slicelens.cli.common import table

    rows = [row for s in slice_set.slices[: args.show] for row in _rows(s)]
    print(f"{len(slice_set.slices)} {'stored ' if stored else ''}slices of run {r.id} by "
          f"{slice_set.slicer!r}, learned on {slice_set.split!r}, most problematic first "
          "(accuracy with its Wilson 95% interval):")
    print(table(rows, ["slice", "size", "accuracy", "interval", "confidence", "loss",
                       "bug type", "description"]))
    typed = [s for s in slice_set.slices[: args.show] if s.evidence.get("explanation")]
    if typed:
        print("\nwhy each bug type (evidence):")
        for s in typed:
            print(f"  {s.id}: {s.bug_type or '-'}: {s.evidence['explanation']}")
            if s.bug_type == "wrong_labels":
                print(f"    training samples behind its errors: slicelens tda --slice "
                      f"{slice_set.slicer}:{s.id}; all suspect labels: slicelens tda --wrong-labels")
    if not any(s.evidence.get("conditions") for s in slice_set.slices):
        print("\n(descriptions are confusion cells: run `slicelens attributes assign` to "
              "describe the slices by the attribute values enriched in them)")
    if len(slice_set.slices) > args.show:
        print(f"... {len(slice_set.slices) - args.show} more (--show N)")


def _label_check(r, args) -> None:
    """The training-label check after the slices (see the module docstring)."""
    from slicelens.errors import SliceLensError
    from slicelens.pipeline.slices import (
        check_training_labels,
        label_check_applies,
        label_check_skip,
        stored_label_check,
    )

    auto = args.label_check is None
    if args.label_check is False or (auto and not label_check_applies(args.slicer, args.split)):
        return
    why = label_check_skip(r)
    if why and auto:
        print(f"\n(training labels not checked: {why})")
        return
    if why:
        raise SliceLensError(f"--label-check: {why}")
    stored = stored_label_check(r)
    if stored is not None:
        print("\n(the stored training-label check is reused: the run has not changed since it "
              "was made)")
    _print_suspects(stored if stored is not None else check_training_labels(r, reuse=False),
                    r, args)


def _print_suspects(ss, r, args) -> None:
    from slicelens.cli.common import table
    from slicelens.pipeline.slices import suspect_slices

    sus = suspect_slices(ss)
    n = sum(s.size for s in ss.slices)
    ev = ss.slices[-1].evidence if ss.slices else {}
    if ev.get("n_checked", n) < ev.get("n_labelled", n):
        print(f"\n(the label check read a random {ev['n_checked']:,} of the {ev['n_labelled']:,} "
              "labelled training samples: --fit-sample N with --slicer wrong-labels --split "
              "train to check more; every sample ranked: slicelens tda --wrong-labels)")
    if not sus:
        print(f"\nTraining labels: no group of suspect labels among {n} labelled "
              f"{ss.split!r} samples (wrong-labels slicer)")
        return
    print(f"\nTraining labels: {len(sus)} group(s) of suspect labels among {n} labelled "
          f"{ss.split!r} samples ({sum(s.size for s in sus)} samples), largest first - "
          "labels a held-out head, their neighbours and their look-alikes by shape all "
          "reject (off: --no-label-check):")
    rows = [{"slice": s.id, "size": s.size, "labelled": s.evidence.get("labelled", "-"),
             "suggested": s.evidence.get("suggested", "-"),
             "margin": s.evidence.get("mean_margin", float("nan")),
             "neighbours disagree": s.evidence.get("neighbour_disagreement", float("nan")),
             "description": s.description} for s in sus[: args.show]]
    print(table(rows))
    print(f"  stored as slice set 'wrong-labels' (slicelens slices --list --slicer wrong-labels "
          f"--run {r.id}); every sample ranked: slicelens tda --wrong-labels; mark a group: "
          f"slicelens annotate --slice wrong-labels:{sus[0].id} --label wrong_labels")


def _row(s) -> dict:
    m = s.metrics
    return {"slice": s.id, "size": m["size"], "accuracy": m["accuracy"],
            "interval": f"[{m['acc_low']:.2f}-{m['acc_high']:.2f}]",
            "confidence": m["confidence"], "loss": m["loss"], "bug type": s.bug_type or "-",
            "description": s.description}


def _rows(s) -> list[dict]:
    """The slice's row, then its confusion cell as a second line under the words (when
    the words are not the cell itself)."""
    cell = s.metrics.get("confusion_text", "")
    second = [] if not cell or cell == s.description else [{"description": f"  {cell}"}]
    return [_row(s), *second]


def _report_marks(ws: Workspace, run: Run, slicer: str) -> None:
    """Say where the marks made on earlier slices of this slicer stand now (they follow
    their images; orphaned ones are in force nowhere)."""
    from collections import Counter

    from slicelens.feedback import resolve_marks

    resolved = resolve_marks(ws, run, slicer)
    if not resolved:
        return
    counts = Counter(r.state for r in resolved)
    print(f"marks: {', '.join(f'{n} {state}' for state, n in sorted(counts.items()))} "
          "(moved marks follow their images to the new slice ids)")
    for r in resolved:
        if r.state == "orphaned":
            print(f"  mark {r.annotation.id} ({r.annotation.label}) on {r.annotation.target_id} "
                  "is orphaned: no slice now holds half of its images; see "
                  "`slicelens annotate --list`")
