"""Plain-text summaries printed by the CLI (the numbers come from slicelens.evaluate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slicelens.evaluate.summary import near_chance, split_class_summary
from slicelens.utils import table

if TYPE_CHECKING:
    from slicelens.store.run import Run


def print_run_summary(run: Run, echo=print) -> None:
    """Accuracy per split and per class of a run, and where it lives."""
    s = run.samples
    summ = split_class_summary(s, run.classes)
    echo(f"run {run.id}: {len(s)} samples, classes {', '.join(run.classes)}")
    echo(f"  stored in {run.path}")
    record = run.record
    for note in record.data.notes:
        echo(f"  note: {note}")
    method = record.extract.get("method_used") or record.method or ""
    if method:
        echo(f"  attribution maps: {method}")
    echo(table(summ.to_dict("records"), ["split", "class", "n", "accuracy"]))
    low = near_chance(s, len(run.classes))
    if low is not None:
        echo(f"warning: accuracy {low[0]:.2f} on labelled samples is near chance ({low[1]:.2f}); "
             "check --normalize (the model's own mean/std) and --classes order")
