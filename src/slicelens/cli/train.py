"""Train a built-in model on a dataset (train split; early stopping on val).

Example:
  slicelens train --data data/manifest.csv --model small-cnn --epochs 10
"""

from __future__ import annotations

from slicelens.cli.common import add_workspace

HELP = "train a built-in model on a manifest or image folder"


def add_arguments(p):
    from slicelens.models import TrainConfig
    from slicelens.params import add_model_args
    from slicelens.pipeline import TrainJob

    add_workspace(p)
    p.add_argument("--data", required=True, help="manifest (.csv / .parquet) or image folder")
    p.add_argument("--classes", default=None, help="text file with class names in output order")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images")
    add_model_args(p, TrainJob)
    add_model_args(p, TrainConfig)


def run(args) -> int:
    from slicelens.data import load_dataset
    from slicelens.models import TrainConfig
    from slicelens.params import from_args
    from slicelens.pipeline import TrainJob, train_model
    from slicelens.pipeline.extract import _read_classes
    from slicelens.store import Workspace

    ds = load_dataset(args.data, classes=_read_classes(args.classes), skip_bad=args.skip_bad)
    job, cfg = from_args(TrainJob, args), from_args(TrainConfig, args)
    spec, result = train_model(Workspace(args.workspace), ds, job, cfg)
    print(f"best epoch {result.best_epoch}: validation accuracy {result.best_val_acc:.3f}")
    print(f"weights: {spec.weights}")
    print(f"\nNext: slicelens extract --workspace {args.workspace} --data {args.data} "
          f"--model {spec.spec} --weights {spec.weights} --input-size {spec.input_size}")
    return 0
