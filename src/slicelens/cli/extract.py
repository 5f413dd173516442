"""Extract predictions, features, attribution maps and F_W for every sample.

One forward pass per batch (closed-form CAM for pooled-linear heads, else GradCAM with
one backward). A killed extraction resumes with --resume RUN_ID.

Examples:
  slicelens extract --data data/manifest.csv --model model.ts --input-size 64
  slicelens extract --data images/ --model mypkg.nets:resnet_small --weights w.pt --input-size 96
"""

from __future__ import annotations

from slicelens.cli.common import add_workspace

HELP = "run the one-pass extraction on your data and model into a workspace run"


def add_arguments(p):
    from slicelens.extract import ExtractConfig
    from slicelens.models import ModelSpec
    from slicelens.params import add_model_args

    add_workspace(p)
    p.add_argument("--data", required=True, help="manifest (.csv / .parquet) or image folder")
    p.add_argument("--classes", default=None,
                   help="text file with the model's classes in output order (default: sorted labels)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable images (listed in the run's bad_inputs.csv)")
    p.add_argument("--name", default="extract", help="name part of the new run id")
    p.add_argument("--resume", default=None, metavar="RUN_ID", help="resume an interrupted run")
    add_model_args(p, ModelSpec, rename={"spec": "model"})
    add_model_args(p, ExtractConfig)


def run(args) -> int:
    from slicelens.extract import ExtractConfig
    from slicelens.models import ModelSpec
    from slicelens.params import from_args
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.report import print_run_summary
    from slicelens.store import Workspace

    spec = from_args(ModelSpec, args)
    cfg = from_args(ExtractConfig, args)
    run = extract_run(Workspace(args.workspace), args.data, spec, cfg, classes=args.classes,
                      skip_bad=args.skip_bad, name=args.name, resume=args.resume)
    print_run_summary(run)
    print(f"\nNext: slicelens runs --workspace {args.workspace}")
    return 0
