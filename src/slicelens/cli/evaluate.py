"""Evaluate a run: clean / core / spurious accuracy and RCS (AttributionScanner Sec. V-A),
worst-group and average accuracy where ground truth exists, and a before / after table
per slice against a baseline run.

Core and spurious regions come from the demo's ground truth (found beside the manifest,
or --ground-truth) or, without it, from the slices marked core / spurious; the output
says which.

A repaired run is shown beside its matched control (the same start, epochs, seed and
early stopping on unchanged data, recorded by `slicelens repair`); the verdict says in
words whether the repair beats it.

Examples:
  slicelens evaluate --run run-0002-corm --baseline run-0001-demo
  slicelens evaluate --run run-0002-corm --baseline run-0001-demo --sigma 0.5 --trials 10
  slicelens evaluate --ground-truth none --json report.json
"""

from __future__ import annotations

from slicelens.cli.common import add_run, add_workspace

HELP = "clean/core/spurious accuracy, RCS, worst-group and per-slice before/after"


def add_arguments(p):
    from slicelens.evaluate.robustness import RobustnessParams
    from slicelens.params import add_model_args

    add_workspace(p)
    add_run(p, default="latest")
    p.add_argument("--baseline", default=None, help="run id to compare with (the model before repair)")
    p.add_argument("--control", default="auto",
                   help="matched control run ('auto': the one the repair recorded; 'none': skip)")
    p.add_argument("--slicer", default="attribution",
                   help="base run's slice set for the per-slice table ('none': skip)")
    p.add_argument("--ground-truth", default="auto",
                   help="ground_truth.csv of the demo ('auto': beside the manifest; 'none': ignore)")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the report as JSON")
    add_model_args(p, RobustnessParams)


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.evaluate.robustness import RobustnessParams
    from slicelens.params import from_args
    from slicelens.pipeline.evaluate import evaluate_run, print_evaluation
    from slicelens.store.atomic import write_json

    ws, run_ = open_run(args, default="latest")
    gt = None if args.ground_truth == "none" else args.ground_truth
    report = evaluate_run(ws, run_, baseline=args.baseline,
                          slicer=None if args.slicer == "none" else args.slicer,
                          ground_truth=gt, params=from_args(RobustnessParams, args),
                          split=args.split,
                          control=None if args.control == "none" else args.control)
    print_evaluation(report)
    if args.json:
        write_json(args.json, report.to_json())
        print(f"\nreport: {args.json}")
    return 0
