"""Repair a run's model with a registered strategy: plan, retrain, extract a new run, and
train (or reuse) its matched control: the same start, epochs, seed and early stopping on
unchanged data. The result is shown against that control, never against the original
model alone.

Strategies (docs/repair.md): dfr (default: last-layer retraining on a pseudo-group-
balanced half of validation), group-balance, gdro, counterfactual (pseudo-groups from the
slices people marked), corm (AttributionScanner's noise on spurious regions), jtt (no
marks), and the data-selection and generation strategies. Each strategy's options are
flags below; any option can also be given with --set KEY=VALUE.

Examples:
  slicelens repair                                     # dfr from the slices marked spurious
  slicelens repair --strategy group-balance --source propagation --threshold 0.6
  slicelens repair --strategy corm --source marks --sigma 0.5 --epochs 15
  slicelens repair --strategy hibug-select --set budget=200 --set oracle=labels.csv
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slicelens.cli.common import add_run, add_workspace, parse_sets

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace

HELP = "repair a model (DFR, group balance, CoRM, ...) into a new run, beside its control"
#: flags of the command itself and of training; a strategy option of the same name is
#: only reachable through --set
RESERVED = {"workspace", "run", "strategy", "set", "init", "name", "no_control", "control", "seeds"}


def _strategy_fields():
    """(strategy -> its Params fields shown as flags) over the registry, without clashes;
    the default strategy first."""
    from slicelens.models import TrainConfig
    from slicelens.pipeline.repair import DEFAULT_STRATEGY
    from slicelens.repair.base import load_repairs

    taken = RESERVED | set(TrainConfig.model_fields)
    out = {}
    for name, cls in sorted(load_repairs().items(), key=lambda kv: (kv[0] != DEFAULT_STRATEGY, kv[0])):
        fields = [f for f in cls.Params.model_fields if f not in taken]
        taken |= set(fields)
        out[name] = fields
    return out


def add_arguments(p):
    from slicelens.models import TrainConfig
    from slicelens.params import add_model_args
    from slicelens.pipeline.repair import DEFAULT_STRATEGY
    from slicelens.repair.base import load_repairs

    add_workspace(p)
    add_run(p)
    p.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=sorted(load_repairs()),
                   help=f"repair strategy (default: {DEFAULT_STRATEGY})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a strategy parameter (VALUE read as JSON when it parses), repeatable")
    p.add_argument("--init", choices=["scratch", "finetune"], default="scratch",
                   help="retrain from scratch or fine-tune the run's weights (default: scratch)")
    p.add_argument("--name", default=None, help="name part of the new run id (default: the strategy)")
    p.add_argument("--no-control", action="store_true",
                   help="skip the matched control (the report then cannot state a gain)")
    p.add_argument("--seeds", type=int, default=1,
                   help="repeat the repair and its control with this many seeds and state the "
                        "gain with a 95%% interval (default: 1)")
    classes = load_repairs()
    for name, fields in _strategy_fields().items():
        if fields:
            add_model_args(p.add_argument_group(f"{name} options (some shared by later strategies)"),
                           classes[name].Params, required=False,
                           skip=tuple(f for f in classes[name].Params.model_fields if f not in fields))
    _per_strategy_defaults(p, classes)
    add_model_args(p.add_argument_group("training options (unset: the base model's settings)"),
                   TrainConfig)


def _per_strategy_defaults(p, classes) -> None:
    """Help of a shared option whose default differs between strategies says so."""
    defaults: dict[str, set] = {}
    for cls in classes.values():
        for name, f in cls.Params.model_fields.items():
            defaults.setdefault(name, set()).add(repr(f.default))
    for action in p._actions:
        if len(defaults.get(action.dest, ())) > 1 and action.help:
            action.help = action.help.split(" (default:")[0] + " (default: per strategy)"


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.models import TrainConfig
    from slicelens.params import validate
    from slicelens.pipeline.evaluate import evaluate_run, print_evaluation
    from slicelens.pipeline.repair import run_repair
    from slicelens.repair.base import get_repair

    ws, base = open_run(args)
    if args.seeds < 1:
        from slicelens.errors import SliceLensError

        raise SliceLensError(f"--seeds must be at least 1, got {args.seeds}")
    fields = get_repair(args.strategy).Params.model_fields
    params = {k: getattr(args, k) for k in fields
              if k not in RESERVED and k not in TrainConfig.model_fields
              and getattr(args, k, None) is not None}
    params.update(parse_sets(args.set))
    given = {k: getattr(args, k) for k in TrainConfig.model_fields if getattr(args, k, None) is not None}
    # given options override the base model's stored training settings, not all of them
    from slicelens.pipeline.retrain import resolve_train_config

    train_cfg = (validate(TrainConfig, {**resolve_train_config(base).model_dump(), **given})
                 if given else None)
    if args.seeds > 1:
        return _run_seeds(args, ws, base, params, train_cfg)
    plan, new = run_repair(ws, base, args.strategy, params, train_cfg,
                           progress=lambda _f, msg: print(msg), init=args.init, name=args.name,
                           control=not args.no_control)
    print(plan.description or plan.summary())
    control = new.record.control_run
    print(f"new run: {new.id}" + (f"; matched control: {control}" if control else ""))
    print()
    slicer = args.slicer if getattr(args, "slicer", None) else "auto"
    try:
        report = evaluate_run(ws, new, baseline=base, slicer=slicer)
    except Exception as e:  # noqa: BLE001 - the repair is done; say why it was not scored
        print(f"(not evaluated here: {e})")
    else:
        print_evaluation(report)
    print(f"\nNext: slicelens evaluate --workspace {args.workspace} --run {new.id} "
          f"--baseline {base.id}")
    return 0


def _run_seeds(args, ws: Workspace, base, params, train_cfg) -> int:
    from slicelens.cli.common import table
    from slicelens.pipeline.repair import run_repair_seeds

    res = run_repair_seeds(ws, base, args.strategy, params, train_cfg, args.seeds,
                           progress=lambda _f, msg: print(msg), init=args.init, name=args.name,
                           slicer=getattr(args, "slicer", None) or "auto")
    rows = [{"seed": r["seed"], "run": r["run"], "control": r["control"],
             **{f"{m} (after)": v for m, v in r["after"].items()},
             **{f"{m} (control)": v for m, v in r["control_figures"].items()}} for r in res["runs"]]
    print(table(rows))
    for v in res["verdicts"].values():
        print(f"verdict: {v}")
    return 0
