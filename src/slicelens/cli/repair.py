"""Repair a run's model with a registered strategy: plan, retrain, extract a new run.

CoRM (AttributionScanner Sec. III-G) adds Gaussian noise to the attribution regions of
the training images in spurious slices (marked, or above a propagated spuriousness
threshold) and retrains. Other strategies take their parameters with --set KEY=VALUE.

Examples:
  slicelens repair --strategy corm --source propagation --threshold 0.5
  slicelens repair --strategy corm --source marks --sigma 0.5 --epochs 15
  slicelens repair --strategy hibug-select --set budget=200
"""

from __future__ import annotations

import json

from slicelens.cli.common import add_run, add_workspace

HELP = "repair a model (CoRM, data selection, ...) into a new run"


def add_arguments(p):
    from slicelens.models import TrainConfig
    from slicelens.params import add_model_args
    from slicelens.repair.base import load_repairs
    from slicelens.repair.corm import CoRMParams

    add_workspace(p)
    add_run(p)
    p.add_argument("--strategy", default="corm", choices=sorted(load_repairs()),
                   help="repair strategy (default: corm)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a strategy parameter (VALUE read as JSON when it parses), repeatable")
    p.add_argument("--init", choices=["scratch", "finetune"], default="scratch",
                   help="retrain from scratch or fine-tune the run's weights (default: scratch)")
    p.add_argument("--name", default=None, help="name part of the new run id (default: the strategy)")
    add_model_args(p.add_argument_group("corm options"), CoRMParams)
    add_model_args(p.add_argument_group("training options (unset: TrainConfig defaults)"),
                   TrainConfig)


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.models import TrainConfig
    from slicelens.params import validate
    from slicelens.pipeline.repair import run_repair
    from slicelens.repair.corm import CoRMParams

    ws, base = open_run(args)
    params = {k: getattr(args, k) for k in CoRMParams.model_fields
              if args.strategy == "corm" and getattr(args, k, None) is not None}
    params.update(_parse_sets(args.set))
    given = {k: getattr(args, k) for k in TrainConfig.model_fields if getattr(args, k, None) is not None}
    train_cfg = validate(TrainConfig, given) if given else None
    plan, new = run_repair(ws, base, args.strategy, params, train_cfg,
                           progress=lambda _f, msg: print(msg), init=args.init, name=args.name)
    print(plan.description or plan.summary())
    print(f"new run: {new.id}")
    print(f"\nNext: slicelens evaluate --workspace {args.workspace} --run {new.id} "
          f"--baseline {base.id}")
    return 0


def _parse_sets(items: list[str]) -> dict:
    from slicelens.errors import SliceLensError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SliceLensError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out
