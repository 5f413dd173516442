// AACA concept alignment (paper Fig. 4, "Evaluation of Concept Alignment"): per class, the
// Jensen-Shannon divergence (bits) between the training set's concept distribution and
// validation's, before (initial training), after each stored AACA repair, and after its
// matched control. Every figure comes from GET /runs/{run}/concepts/alignment (computed
// by slicelens.pipeline.repair_alignment); none is filled in here.
import * as Plot from "@observablehq/plot";
import { useCallback } from "react";
import { get, type ConceptAlignment as Alignment, type RepairAlignment as Repair } from "../api";
import { useAsync } from "../hooks";
import PlotFigure from "./PlotFigure";

const SETS = ["before", "after", "control"] as const;
const NAMES: Record<(typeof SETS)[number], string> = { before: "before (initial training)", after: "after repair", control: "matched control" };
const COLOURS = ["#9a9a9a", "#4c78a8", "#f58518"];
const num = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toFixed(4));
/** The fall the bound would be against before, e.g. " (−38%)". */
const reach = (before: number | null | undefined, bound: number | null | undefined) =>
  before && bound !== null && bound !== undefined ? ` (${bound <= before ? "−" : "+"}${Math.abs(100 * (1 - bound / before)).toFixed(0)}%)` : "";

function Chart({ repair }: { repair: Repair }) {
  const rows = [...(repair.classes ?? []), ...(repair.overall ? [{ ...repair.overall, class: "all classes" }] : [])];
  const make = useCallback(() => {
    const data = rows.flatMap((r) => SETS.filter((k) => r[k] !== null && r[k] !== undefined)
      .map((k) => ({ cls: r.class, set: NAMES[k], jsd: r[k] as number })));
    return Plot.plot({
      width: 420, height: 30 * data.length + 50, marginLeft: 150, marginRight: 50, style: { background: "transparent" },
      x: { label: "JS divergence to validation (bits) →", grid: true },
      y: { label: null, domain: SETS.map((k) => NAMES[k]), axis: null },
      fy: { label: null, domain: rows.map((r) => r.class) },
      color: { domain: SETS.map((k) => NAMES[k]), range: COLOURS, legend: true },
      marks: [
        Plot.barX(data, { x: "jsd", y: "set", fy: "cls", fill: "set", tip: true }),
        Plot.text(data, { x: "jsd", y: "set", fy: "cls", text: (d: { jsd: number }) => d.jsd.toFixed(3), textAnchor: "start", dx: 4, fill: "currentColor" }),
        Plot.ruleX([0]),
      ],
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [repair]);
  return <PlotFigure make={make} testId={`alignment-chart-${repair.run}`} />;
}

export default function ConceptAlignment({ run, version }: { run: string; version?: number }) {
  const res = useAsync(() => get<Alignment>(`/runs/${encodeURIComponent(run)}/concepts/alignment`), [run, version]);
  if (res.error) return <div className="error" role="alert">{res.error}</div>;
  if (!res.data) return <div className="empty">Computing concept alignment…</div>;
  const a = res.data;
  return (
    <section className="concept-alignment" data-testid="concept-alignment">
      <h3>Concept alignment (JS divergence to validation, bits; lower is closer)</h3>
      {a.repairs.length === 0 && <p className="empty" data-testid="alignment-none">{a.detail}</p>}
      {a.repairs.map((r) => (
        <div key={r.run} data-testid="alignment-repair">
          <p>
            <b>{r.run}</b> (AACA-{r.variant ?? "?"}, {r.source ?? "?"}{r.added !== undefined ? `, ${r.added} images added` : ""})
            {" "}beside matched control <b>{r.control ?? "none"}</b>
            {r.tagger ? ` · concepts tagged by ${r.tagger}` : ""}
          </p>
          {r.error && <div className="error" role="alert">{r.error}</div>}
          {r.control_error && <p className="empty">control: {r.control_error}</p>}
          {r.classes && (
            <div className="alignment-pair">
              <Chart repair={r} />
              <table data-testid="alignment-table">
                <thead><tr><th>class</th><th>before</th><th>after repair</th><th>control</th><th title="after repair against before">change</th>
                  {r.bound_k !== null && r.bound_k !== undefined && (
                    <th title={r.bound_method ?? undefined} data-testid="alignment-bound-head">reachable at k = {r.bound_k} (greedy)</th>
                  )}
                  {r.bound_k !== null && r.bound_k !== undefined && (
                    <th title={r.lower_method ?? undefined} data-testid="alignment-lower-head">no choice below</th>
                  )}</tr></thead>
                <tbody>
                  {[...r.classes, ...(r.overall ? [{ ...r.overall, class: "all classes" }] : [])].map((c) => (
                    <tr key={c.class} title={c.skipped ?? undefined}>
                      <td>{c.class}</td><td>{num(c.before)}</td><td>{num(c.after)}</td><td>{num(c.control)}</td>
                      <td>{c.fall === null || c.fall === undefined ? "–" : `${c.fall > 0 ? "−" : "+"}${Math.abs(100 * c.fall).toFixed(0)}%`}</td>
                      {r.bound_k !== null && r.bound_k !== undefined && <td>{num(c.bound)}{reach(c.before, c.bound)}</td>}
                      {r.bound_k !== null && r.bound_k !== undefined && <td>{num(c.lower)}{reach(c.before, c.lower)}</td>}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {r.classes && (
            <p className="empty" data-testid="alignment-bound-note">
              {r.bound_k !== null && r.bound_k !== undefined
                ? `Reachable: the lowest JSD that adding ${r.bound_k} of this repair's candidates per class could reach, found greedily (${r.bound_method ?? ""}). No choice below: a proven lower bound, no choice of ${r.bound_k} of these candidates per class goes under it, so a goal below it cannot be met from them with this tagger; the true best lies between the two.`
                : `Reachable JSD: ${r.bound_skipped ?? "not computed"}`}
            </p>
          )}
        </div>
      ))}
    </section>
  );
}
