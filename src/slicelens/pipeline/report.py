"""Plain-text summaries printed by the CLI (the numbers come from slicelens.evaluate)."""

from __future__ import annotations

from slicelens.cli.common import table
from slicelens.evaluate.summary import split_class_summary


def print_run_summary(run, echo=print) -> None:
    """Accuracy per split and per class of a run, and where it lives."""
    s = run.samples
    summ = split_class_summary(s, run.classes)
    echo(f"run {run.id}: {len(s)} samples, classes {', '.join(run.classes)}")
    echo(f"  stored in {run.path}")
    method = run.record.get("extract", {}).get("method_used") or run.record.get("method", "")
    if method:
        echo(f"  attribution maps: {method}")
    echo(table(summ.to_dict("records"), ["split", "class", "n", "accuracy"]))
