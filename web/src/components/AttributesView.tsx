// Attributes (HiBug Sec. 3, App. 7.2; Zeno's main view): per attribute, the model's
// accuracy on each value with its Wilson 95% interval, coloured against the overall
// accuracy, and the count beside it; editing of attribute names and values; and the
// attribute bug slices with bug types, grouped by the set of attributes that defines them.
import * as Plot from "@observablehq/plot";
import { useCallback, useState } from "react";
import {
  get, pct, send, setPath, type AttributeHistogram, type Attributes, type Bar, type Job,
  type SliceRow, type SliceTable as Table,
} from "../api";
import { useAsync } from "../hooks";
import JobProgress from "./JobProgress";
import PlotFigure from "./PlotFigure";
import SliceTable from "./SliceTable";

type Attr = AttributeHistogram;
type Attrs = Attributes;

interface Props {
  run: string;
  version: number;
  onChanged: () => void;
  onOpenSlice: (slicer: string, id: string) => void;
}

// below the overall accuracy (interval entirely below) red, above green, else grey
const BELOW = "#d62728", ABOVE = "#2ca02c", SAME = "#9a9a9a";
function side(b: Bar, overall: number | null): string {
  if (overall === null || b.acc_low == null || b.acc_high == null) return SAME;
  return b.acc_high < overall ? BELOW : b.acc_low > overall ? ABOVE : SAME;
}

function AccuracyBars({ attr, overall }: { attr: Attr; overall: number | null }) {
  const make = useCallback(() => {
    const data = attr.histogram.filter((b) => b.accuracy !== null).map((b) => ({ ...b, colour: side(b, overall), count: `n=${b.n}` }));
    return Plot.plot({
      height: 26 * data.length + 46, width: 360, marginLeft: 96, marginRight: 56, style: { background: "transparent" },
      x: { label: "accuracy →", domain: [0, 1], tickFormat: "%", grid: true },
      y: { label: null, domain: data.map((d) => d.value) },
      marks: [
        Plot.barX(data, { x: "accuracy", y: "value", fill: "colour", fillOpacity: 0.75, tip: true,
          title: (d: Bar) => `${d.value}: ${(100 * (d.accuracy ?? 0)).toFixed(1)}% of ${d.n_labeled} labelled [${(100 * (d.acc_low ?? 0)).toFixed(1)}, ${(100 * (d.acc_high ?? 0)).toFixed(1)}]` }),
        Plot.link(data, { x1: "acc_low", x2: "acc_high", y1: "value", y2: "value", stroke: "currentColor", strokeWidth: 1.5 }),
        ...(overall !== null ? [Plot.ruleX([overall], { stroke: "currentColor", strokeDasharray: "4,3" })] : []),
        Plot.text(data, { x: 1, y: "value", text: "count", textAnchor: "start", dx: 6, fill: "currentColor" }),
      ],
    });
  }, [attr, overall]);
  return <PlotFigure make={make} testId={`accuracy-${attr.name}`} />;
}

function Histogram({ attr }: { attr: Attr }) {
  const make = useCallback(
    () => Plot.plot({
      height: 120, width: 360, marginBottom: 40, marginLeft: 44, style: { background: "transparent" },
      x: { label: null, tickRotate: -20, domain: attr.histogram.map((b) => b.value) },
      y: { label: "samples", grid: true },
      marks: [Plot.barY(attr.histogram, { x: "value", y: "n", fill: "#4c78a8", tip: true }), Plot.ruleY([0])],
    }),
    [attr],
  );
  return <PlotFigure make={make} testId={`histogram-${attr.name}`} />;
}

/** Bug slices grouped by the attribute set that defines them, worst group first. */
function BugGroups({ table, onOpen }: { table: Table; onOpen: (id: string) => void }) {
  const groups = new Map<string, SliceRow[]>();
  for (const r of table.slices) {
    const key = r.conditions ? Object.keys(r.conditions).sort().join(" + ") : "(no attribute set)";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const worst = (rs: SliceRow[]) => Math.min(...rs.map((r) => r.accuracy ?? 1));
  const ordered = [...groups.entries()].sort((a, b) => worst(a[1]) - worst(b[1]));
  return (
    <div className="bug-groups" data-testid="bug-groups">
      {ordered.map(([key, rows]) => (
        <details key={key} open className="bug-group" data-testid="bug-group">
          <summary><b>{key}</b> <small>{rows.length} slice{rows.length > 1 ? "s" : ""} · lowest accuracy {pct(worst(rows))}</small></summary>
          <SliceTable table={{ ...table, slices: rows }} selected={null} encoding="accuracy" onSelect={onOpen} />
        </details>
      ))}
    </div>
  );
}

function AttributeCard({ run, attr, overall, onSaved }: { run: string; attr: Attr; overall: number | null; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(attr.name);
  const [values, setValues] = useState(attr.values.join(", "));
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    try {
      await send("PUT", `/runs/${encodeURIComponent(run)}/attributes`, {
        name: attr.name, new_name: name !== attr.name ? name : null,
        values: values.split(",").map((v) => v.trim()).filter(Boolean),
      });
      setEditing(false);
      onSaved();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="attr-card">
      <h3>
        {attr.name} <small>{attr.backend ?? ""}</small>{" "}
        <button onClick={() => setEditing(!editing)}>{editing ? "cancel" : "edit"}</button>
      </h3>
      {editing ? (
        <div className="attr-edit">
          <label>name <input value={name} onChange={(e) => setName(e.target.value)} /></label>
          <label>values <input value={values} onChange={(e) => setValues(e.target.value)} size={40} /></label>
          <button onClick={save}>save</button>
          <p className="note">Assign again to use the edited list.</p>
          {error && <div className="error">{error}</div>}
        </div>
      ) : attr.histogram.length ? (
        <>
          <AccuracyBars attr={attr} overall={overall} />
          <details><summary>count per value</summary><Histogram attr={attr} /></details>
        </>
      ) : (
        <p className="note">values: {attr.values.join(", ") || "(proposed when assigned)"}</p>
      )}
    </div>
  );
}

export default function AttributesView({ run, version, onChanged, onOpenSlice }: Props) {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const attrs = useAsync(() => get<Attrs>(`/runs/${encodeURIComponent(run)}/attributes`), [run, version]);
  const bugs = useAsync(
    () => (attrs.data?.has_bug_slices ? get<Table>(setPath(run, "attributes")) : null),
    [run, version, attrs.data?.has_bug_slices],
  );
  const start = async () => {
    setError(null);
    try {
      setJobId((await send<Job>("POST", `/runs/${encodeURIComponent(run)}/attributes/jobs`, { backend: "default", params: {} })).id);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="view attributes" data-testid="attributes-view">
      <h2>Attributes <small>{attrs.data ? `${attrs.data.split} split${attrs.data.source ? ` · list ${attrs.data.source}` : ""}` : ""}</small></h2>
      {attrs.error && <div className="error">{attrs.error}</div>}
      {attrs.data && attrs.data.status !== "ok" && (
        <div className="notice" data-testid="attributes-missing">
          Attributes {attrs.data.status}: run <code>{attrs.data.command}</code>{" "}
          {!jobId && <button onClick={start}>assign and find bugs now</button>}
        </div>
      )}
      {attrs.data?.status === "ok" && !jobId && <button onClick={start}>assign again and find bugs</button>}
      {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") onChanged(); else setError(j.error); }} />}
      {error && <div className="error" role="alert">{error}</div>}
      {attrs.data?.status === "ok" && (
        <p className="note" data-testid="attr-legend">
          Accuracy of the model on each value ({attrs.data.split} split, labelled samples), bar = accuracy, line = 95% interval,
          dashed = overall {pct(attrs.data.overall_accuracy)}; <span style={{ color: BELOW }}>■</span> below overall (interval below it),{" "}
          <span style={{ color: ABOVE }}>■</span> above, <span style={{ color: SAME }}>■</span> not distinguishable; n = samples with the value.
        </p>
      )}
      <div className="attr-grid">
        {attrs.data?.attributes.map((a) => <AttributeCard key={a.name} run={run} attr={a} overall={attrs.data?.overall_accuracy ?? null} onSaved={onChanged} />)}
      </div>
      {bugs.data && (
        <>
          <h2>Attribute bug slices <small>accuracy below the overall; rare case or spurious correlation</small></h2>
          {bugs.data.slices.length === 0 ? (
            <p className="empty">No attribute combination has accuracy below the overall accuracy with enough samples.</p>
          ) : (
            <BugGroups table={bugs.data} onOpen={(id) => onOpenSlice("attributes", id)} />
          )}
        </>
      )}
    </div>
  );
}
