"""The sections of the HTML report, each ``(id, title, html, has_data)``.

A section without data says so in words (and what makes it appear), never disappears.
Every figure is read from the run's stored results; nothing is recomputed or assumed.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError
from slicelens.slicing.base import DEFAULT_SLICER

if TYPE_CHECKING:
    from slicelens.store.run import Run


def html_table(df: pd.DataFrame, testid: str, floatfmt: str = "{:.3f}") -> str:
    """A plain HTML table (floats formatted, text escaped)."""
    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float | np.floating):
            return floatfmt.format(v)
        return escape(str(v))
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return (f'<table data-testid="{testid}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def summary(run: Run) -> tuple:
    from slicelens.evaluate.summary import split_class_summary

    rec = run.record
    s = run.samples
    model = rec.model.spec
    facts = [("run", run.id), ("samples", len(s)), ("classes", ", ".join(run.classes)),
             ("model", "none (made from predictions; attribution parts need a model)"
              if not run.has_model else model),
             ("data", rec.data.source),
             ("created", str(rec.created_at or "")[:19])]
    if rec.base_run:
        facts.append(("made from", rec.base_run))
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts)
    acc = split_class_summary(s, run.classes)
    return ("summary", "Run summary", f'<dl class="facts">{dl}</dl>'
            + html_table(acc, "accuracy-table"), True)


def slice_table(run: Run, sets, top: int) -> tuple:
    from slicelens.api.frames import slice_frame
    from slicelens.api.marks import marks_in_force
    from slicelens.export.svg import interval_chart

    sets = [ss for ss in sets if ss.slicer != "attributes"]
    if not sets:
        return ("slices", "Slices", empty("No slices stored in this run: run `slicelens "
                                          "slices` (or run.find_slices()) first."), False)
    parts = []
    for ss in sets:
        df = slice_frame(ss, marks_in_force(run, ss.slicer))
        s = run.samples
        lab = s[(s["split"] == ss.split) & (s["label"] >= 0)]
        overall = float(lab["correct"].astype(float).mean()) if len(lab) else None
        shown = df.head(top)
        rows = [(r.slice, r.accuracy, r.acc_low, r.acc_high) for r in shown.itertuples()]
        parts.append(f"<h3>{escape(ss.slicer)} slices ({len(df)}, learned on "
                     f"{escape(ss.split)}; most problematic first)</h3>")
        parts.append(interval_chart(rows, lo=0, hi=1, zero=overall, testid=f"slice-chart-{ss.slicer}",
                                    title="accuracy with its Wilson 95% interval (dashed: "
                                          "the split's overall accuracy)"))
        df = df.assign(interval=[f"[{a:.2f}-{b:.2f}]" for a, b in zip(df.acc_low, df.acc_high,
                                                                        strict=True)])
        parts.append(html_table(df[["rank", "slice", "size", "accuracy", "interval", "errors",
                                    "confidence", "loss", "confusion", "bug_type", "mark",
                                    "description"]], f"slice-table-{ss.slicer}"))
    return ("slices", "Slices", "".join(parts), True)


def worst_images(run: Run, sets, top: int, per_slice: int) -> tuple:
    from slicelens.api.slices import Slices
    from slicelens.export.images import sample_images

    sets = [ss for ss in sets if ss.slicer != "attributes"]
    if not sets:
        return ("worst-images", "Worst images of the top slices",
                empty("No slices stored, so no slice images."), False)
    pref = [DEFAULT_SLICER, "attribution"]
    ss = next((x for name in pref for x in sets if x.slicer == name), sets[0])
    slices = Slices(run, ss)
    note = ("" if run.has_model else
            "<p>Heatmaps need a model's attribution maps: this run was made from predictions.</p>")
    parts = [f"<p>Highest-loss members of the top {min(top, len(slices))} {escape(ss.slicer)} "
             "slices: the image, then its attribution heatmap (red = where the model "
             "looked).</p>" + note]
    try:
        from slicelens.utils import progress

        for view in progress(list(slices)[:top], desc="report images", unit="slice"):
            frame = view.samples().head(per_slice)
            imgs = sample_images(run, frame["id"].astype(str).tolist(), run.has_model)
            cards = []
            for im, row in zip(imgs, frame.itertuples(), strict=True):
                heat = (f'<img src="{im["heatmap"]}" alt="heatmap of {escape(im["id"])}" '
                        'class="heat">' if im["heatmap"] else "")
                cards.append(f'<figure><img src="{im["image"]}" alt="{escape(im["id"])}">{heat}'
                             f'<figcaption>{escape(str(row.label))} &rarr; {escape(str(row.pred))}'
                             f'<br>loss {row.loss:.2f}</figcaption></figure>')
            parts.append(f'<h3>{escape(view.id)}: {escape(view.description)}</h3>'
                         f'<div class="grid" data-testid="grid-{escape(view.id)}">{"".join(cards)}</div>')
    except (SliceLensError, OSError) as e:
        return ("worst-images", "Worst images of the top slices",
                empty(f"The images could not be read: {e}"), False)
    return ("worst-images", "Worst images of the top slices", "".join(parts), True)


def mosaic(run: Run, sets) -> tuple:
    from slicelens.export.images import file_uri

    found = [(ss.slicer, run.artifact_path("mosaic", ss.slicer) / "mosaic.png") for ss in sets]
    found = [(n, p) for n, p in found if p.exists()]
    if not found:
        why = ("this run has no model, and the mosaic inverts the model's features"
               if not run.has_model else "run `slicelens mosaic` to draw it")
        return ("mosaic", "Attribution Mosaic", empty(f"No mosaic stored: {why}."), False)
    html = "".join(f'<h3>{escape(n)}</h3><img class="mosaic" src="{file_uri(p)}" '
                   f'alt="Attribution Mosaic of {escape(n)} slices">' for n, p in found)
    return ("mosaic", "Attribution Mosaic", html, True)


def bugs(run: Run, sets) -> tuple:
    ss = next((x for x in sets if x.slicer == "attributes"), None)
    if ss is None or not ss.slices:
        return ("bugs", "Attribute bug slices", empty(
            "No attribute bug slices stored: run `slicelens attributes assign` and "
            "`slicelens bugs`."), False)
    rows = [{"slice": s.id, "in words": s.description, "bug type": s.bug_type or "",
             "size": s.metrics.get("size"), "accuracy": s.metrics.get("accuracy"),
             "interval": f"[{s.metrics.get('acc_low', float('nan')):.2f}-"
                         f"{s.metrics.get('acc_high', float('nan')):.2f}]"} for s in ss.slices]
    return ("bugs", "Attribute bug slices", html_table(pd.DataFrame(rows), "bugs-table"), True)


def marks(run: Run) -> tuple:
    from slicelens.api.marks import mark_frame

    df = mark_frame(run, include_undone=True)
    if df.empty:
        return ("marks", "Marks", empty("No marks yet: mark a slice core, spurious or wrong "
                                        "labels (`slicelens annotate`, run.annotate)."), False)
    df = df.assign(created=df["created"].str[:19], updated=df["updated"].str[:19])
    return ("marks", "Marks", html_table(df, "marks-table"), True)


def tda(run: Run, results) -> tuple:
    from slicelens.export.svg import interval_chart

    if not results:
        return ("tda", "Training-data attribution", empty(
            "No attribution results stored: run `slicelens tda --confusion ...` or "
            "`--slice SLICER:ID`."), False)
    parts = []
    for res in results:
        t = res.table()
        parts.append(f"<h3>{escape(res.error_group.name)} ({len(res.error_group.ids)} errors; "
                     f"metric {escape(res.metric)})</h3>")
        rows = [(f"{r.rank}. {r.action} {r.group}", r.effect, r.ci_low, r.ci_high)
                for r in t.head(15).itertuples()]
        vals = [v for r in rows for v in r[1:] if v is not None and math.isfinite(v)] or [0.0]
        span = max(abs(min(vals)), abs(max(vals)), 1e-3)
        parts.append(interval_chart(rows, lo=-span, hi=span, zero=0.0, testid="forest-plot",
                                    title=f"change of {res.metric} on the errors, 95% CI",
                                    fmt="{:+.3f}"))
        parts.append(html_table(t.drop(columns=["detail"], errors="ignore"), "tda-table"))
    return ("tda", "Training-data attribution", "".join(parts), True)


def repairs(run: Run) -> tuple:
    from slicelens.api.marks import run_workspace
    from slicelens.export.svg import bar_chart

    ws = run_workspace(run)
    derived = [r for r in ws.runs() if r.record.base_run == run.id and r.record.control_run]
    if not derived:
        return ("repairs", "Repairs", empty("No repairs of this run: `slicelens repair` "
                                            "trains one beside its matched control."), False)
    parts = []
    for new in derived:
        try:
            ctrl = ws.run(new.record.control_run)
        except SliceLensError:
            continue
        split = "test" if (new.samples["split"] == "test").any() else "val"
        figures = {name: _figures(r, split) for name, r in
                   (("before", run), ("matched control", ctrl), ("after", new))}
        metrics = ["accuracy", "worst class"]
        groups = [(m, [figures[k][m] for k in figures]) for m in metrics]
        strategy = (new.record.plan or {}).get("strategy", new.id)
        parts.append(f"<h3>{escape(str(strategy))}: {escape(new.id)} (control {escape(ctrl.id)}, "
                     f"{split} split)</h3>")
        parts.append(bar_chart(groups, list(figures), title="before / matched control / after",
                               testid="repair-chart"))
        table = pd.DataFrame([{"model": k, "run": r.id, **figures[k]} for k, r in
                              (("before", run), ("matched control", ctrl), ("after", new))])
        table["after - control"] = ["", "", f"{figures['after']['worst class'] - figures['matched control']['worst class']:+.3f}"]
        parts.append(html_table(table, "repair-table"))
    if not parts:
        return ("repairs", "Repairs", empty("The repairs' control runs are missing."), False)
    return ("repairs", "Repairs", "".join(parts), True)


def _figures(run: Run, split: str) -> dict:
    s = run.samples
    lab = s[(s["split"] == split) & (s["label"] >= 0)]
    correct = lab["correct"].astype(float)
    per_class = correct.groupby(lab["label"]).mean()
    return {"accuracy": float(correct.mean()) if len(lab) else float("nan"),
            "worst class": float(per_class.min()) if len(per_class) else float("nan")}
