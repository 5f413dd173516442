"""Attribute a group of errors to groups of training samples: which training groups, if
removed, relabelled, upweighted or with more data like them, would fix these errors, and
what would that do to overall accuracy? Effects come with intervals and p-values over
bootstrap retrainings of the model's head; --apply turns a row into a training plan and
retrains the model (a new run).

Examples:
  slicelens tda --confusion "0-4->5-9"
  slicelens tda --slice attribution:attribution-03 --metric gt_prob --exact-top 5
  slicelens tda --ids errors.txt --actions remove relabel --apply 1
  slicelens tda --confusion "0-4->5-9" --oracle pool_labels.csv
  slicelens tda --wrong-labels --show 20
"""

from __future__ import annotations

from slicelens.cli.common import add_deprecated, add_run, add_workspace, open_run, table

HELP = "attribute errors to training data (remove / relabel / upweight / add)"


def add_arguments(p):
    from slicelens.params import add_model_args
    from slicelens.tda.params import TDAParams

    add_workspace(p)
    add_run(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--confusion", metavar="TRUE->PRED", help="errors of one confusion cell, e.g. '0-4->5-9'")
    what.add_argument("--slice", metavar="SLICER:ID",
                      help="misclassified members of a stored slice (attribution-03 names "
                           "the attribution slicer's slice 03)")
    what.add_argument("--ids", metavar="FILE", help="text file with one sample id per line")
    what.add_argument("--wrong-labels", action="store_true",
                      help="rank training samples by how likely their label is wrong")
    p.add_argument("--split", default="val", help="split of the confusion cell (default: val)")
    p.add_argument("--all-members", action="store_true", help="with --slice: all members, not only errors")
    p.add_argument("--oracle", metavar="CSV", help="labels of pool samples (id,label) for 'add'")
    p.add_argument("--show", type=int, default=15, help="rows to print (default: 15)")
    p.add_argument("--score", default="margin", choices=["margin", "self_influence", "loss"],
                   help="with --wrong-labels: the ranking score (default: margin)")
    p.add_argument("--apply", type=int, metavar="RANK", help="retrain the model with this row's plan")
    p.add_argument("--model-effects", type=int, metavar="RANK",
                   help="measure this row by retraining the whole model per seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for --model-effects")
    p.add_argument("--init", choices=["scratch", "finetune"], default="scratch",
                   help="retraining start for --apply / --model-effects (default: scratch)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs for --apply / --model-effects")
    # one name per meaning: --show is rows printed, --significance a significance level
    add_model_args(p, TDAParams, rename={"top": "exact_top", "alpha": "significance"})
    add_deprecated(p, "--top", "top", "--exact-top (rows retrained; --show is rows printed)",
                   type=int)
    add_deprecated(p, "--alpha", "alpha", "--significance", type=float)


def run(args) -> int:
    from slicelens.params import from_args
    from slicelens.pipeline.tda import attribute_errors, read_oracle, wrong_label_ranking
    from slicelens.tda.params import TDAParams

    ws, run_ = open_run(args)
    if args.wrong_labels:
        df = wrong_label_ranking(run_, score=args.score, seed=args.seed or 0)
        print(f"training samples most likely mislabelled (by {args.score}; loss = the model's own):")
        print(table(df.head(args.show).to_dict("records"), floatfmt=".3f"))
        return 0
    spec = args.confusion or _slice_spec(args.slice) or _read_ids(args.ids)
    oracle = read_oracle(args.oracle, run_.classes) if args.oracle else None
    params = from_args(TDAParams, args)
    res = attribute_errors(run_, _group(run_, spec, args), params=params, oracle=oracle)
    _print_result(res, args.show)
    if args.model_effects:
        from slicelens.pipeline.tda import model_effects

        row = model_effects(ws, run_, res, args.model_effects, seeds=args.seeds,
                            train_cfg=_train_cfg(args), init=args.init)
        from slicelens.tda.report import summary_rows

        print(f"\nrow {row.rank} measured by retraining the whole model ({row.n_retrains} seeds):")
        print(table(summary_rows([row])))
    if args.apply:
        from slicelens.pipeline.tda import apply_row

        new = apply_row(ws, run_, res, args.apply, _train_cfg(args), init=args.init)
        print(f"\napplied row {args.apply} ({res.row(args.apply).action} "
              f"'{res.row(args.apply).group.name}'): new run {new.id}")
        print(f"Next: slicelens tda --workspace {args.workspace} --run {new.id} "
              f"{'--confusion ' + repr(args.confusion) if args.confusion else '...'}")
    return 0


def _group(run_, spec, args):
    from slicelens.pipeline.tda import resolve_error_group

    return resolve_error_group(run_, spec, split=args.split, errors_only=not args.all_members)


def _slice_spec(address):
    if not address:
        return None
    from slicelens.slicing.address import parse_slice_address

    return ":".join(parse_slice_address(address))


def _read_ids(path) -> list[str]:
    from slicelens.errors import DataError

    try:
        ids = [line.strip() for line in open(path, encoding="utf-8") if line.strip()]
    except OSError as e:
        raise DataError(f"cannot read ids: {e}", file=path) from None
    if not ids:
        raise DataError("no sample ids in the file", file=path)
    return ids


def _train_cfg(args):
    if args.epochs is None:
        return None
    from slicelens.models import TrainConfig

    return TrainConfig(epochs=args.epochs)


def _print_result(res, show: int) -> None:
    from slicelens.tda.report import summary_rows

    b = res.baseline
    print(f"error group: {res.error_group.name} ({len(res.error_group.ids)} samples)")
    print(f"head refit on {b['n_train']} training samples (L2 {b['l2']:g}): agrees with the model on "
          f"{b['agreement_val']:.1%} of validation and {b['agreement_errors']:.1%} of the error group; "
          f"{res.metric} on the errors {b['metric_before']:.3f}, validation accuracy "
          f"{b['val_accuracy_before']:.3f}")
    print(f"exact rows: {b['baseline_retrains']} bootstrap resamples each, paired with the "
          "resample's baseline; 'sig' = significant after Benjamini-Hochberg; (est.) = influence "
          "estimate, not retrained\n")
    print(table(summary_rows(res.rows[:show])))
    print(f"\n{len(res.rows)} rows in total; plan a row with --apply RANK")
