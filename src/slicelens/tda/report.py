"""Printable rows of a :class:`~slicelens.tda.result.TDAResult` (the CLI and the demo
print these; the numbers come from the result, nothing is computed here)."""

from __future__ import annotations

import math


def _fmt_ci(m, lo, hi, fmt="+.3f") -> str:
    if not math.isfinite(m):
        return ""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return format(m, fmt) + " (est.)"
    return f"{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def summary_rows(rows) -> list[dict]:
    """Rows as printable dicts: effect and validation-accuracy change with their intervals
    (``(est.)`` = influence estimate, not retrained), p-value, significance, method."""
    return [{"rank": r.rank, "action": _action(r), "group": r.group.name, "size": r.group.size,
             f"{r.metric} change [95% CI]": _fmt_ci(r.effect, r.ci_low, r.ci_high),
             "p": "" if not math.isfinite(r.p_value) else f"{r.p_value:.2g}",
             "sig": ("yes" if r.significant else "NO") if r.method != "influence" else "-",
             "val acc change [95% CI]": _fmt_ci(r.global_effect, r.global_ci_low, r.global_ci_high),
             "errors fixed": _pct(r.error_accuracy_effect),
             "worst class": "" if not math.isfinite(r.worst_class_effect) else f"{r.worst_class_effect:+.3f}",
             "method": r.method} for r in rows]


def _pct(v: float) -> str:
    return "" if not math.isfinite(v) else f"{v:+.0%}"


def _action(r) -> str:
    """The row's action in words, as its action class labels it."""
    from slicelens.tda.actions.base import get_action

    return get_action(r.action).label(r)
