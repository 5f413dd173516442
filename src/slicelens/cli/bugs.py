"""Find attribute bug slices and say, in words, what the model fails on and why.

Needs the run's attribute matrix (`slicelens attributes assign`). Slices are value
combinations of up to --max-order attributes (and of all attributes) whose validation
accuracy is below the model's; each gets a bug type with its evidence.

Examples:
  slicelens bugs
  slicelens bugs --show 20 --max-order 3 --min-support 30
  slicelens bugs --spurious-threshold 0.7 --evidence
"""

from __future__ import annotations

from slicelens.cli.common import add_deprecated, add_run, add_show, add_workspace, table

HELP = "attribute bug slices in words: '<values>: 41%% accuracy, n=230, rare case'"


def add_arguments(p):
    from slicelens.params import add_model_args
    from slicelens.slicing.slicer_attributes import AttributeSlicerParams

    add_workspace(p)
    add_run(p)
    p.add_argument("--split", default="val", help="split the slices are found on (default: val)")
    add_show(p, 10)
    p.add_argument("--evidence", action="store_true", help="print the evidence of each bug type")
    add_model_args(p, AttributeSlicerParams, rename={"alpha": "spurious_threshold"})
    add_deprecated(p, "--alpha", "alpha", "--spurious-threshold", type=float)


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.params import from_args
    from slicelens.pipeline.attributes import bug_rows, find_attribute_bugs
    from slicelens.slicing.slicer_attributes import AttributeSlicerParams

    _, run_ = open_run(args)
    params = from_args(AttributeSlicerParams, args).model_dump()
    ss = find_attribute_bugs(run_, params, args.split)
    rows = bug_rows(ss, args.show)
    print(f"{len(ss.slices)} bug slices on {args.split} of {run_.id} (overall accuracy "
          f"{_overall(run_, args.split):.0%})")
    cols = ["slice", "bug", "acc_range"] + (["evidence"] if args.evidence else [])
    print(table(rows, cols))
    print(f"\nsaved to {run_.path}/slices/attributes.json")
    print("Next: slicelens repair --strategy hibug-select --set budget=200 --set oracle=LABELS.csv")
    return 0


def _overall(run_, split: str) -> float:
    s = run_.samples
    lab = s[(s["split"] == split) & (s["label"] >= 0)]
    return float(lab["correct"].mean())
