// Repair: start a registered strategy as a background job with progress (its form comes
// from the strategy's parameter schema), then compare the repaired run with the original
// AND its matched control (same start, epochs, seed, early stopping, unchanged data):
// clean / core / spurious accuracy, RCS, worst slice / group, per slice, and a verdict.
import * as Plot from "@observablehq/plot";
import { useCallback, useEffect, useState } from "react";
import { ApiError, fmt, get, pct, send, type Job, type RunSummary } from "../api";
import { useAsync } from "../hooks";
import JobProgress from "./JobProgress";
import PlotFigure from "./PlotFigure";

interface Strategy { name: string; doc: string; default?: boolean; params_schema: { properties?: Record<string, Field> } }
interface Field { type?: string; default?: unknown; description?: string; enum?: unknown[]; anyOf?: Field[] }
interface ModelRow { run: string; role: string; clean: number; core: number; spurious: number; rcs: number; average: number; worst_group?: string; worst_group_accuracy?: number; worst_slice?: string; worst_slice_accuracy?: number }
interface SliceCmp { slice_id: string; n: number; acc_before: number; acc_after: number; delta: number; low_before: number; high_before: number; low_after: number; high_after: number; acc_control?: number; delta_vs_control?: number }
interface Report { run: string; baseline: string; control: string | null; split: string; n: number; mask_source: string; mask_note: string; models: ModelRow[]; slices: SliceCmp[]; groups: (SliceCmp & { group: string })[]; slicer: string | null; versus_control: Record<string, number>; verdict: string }

interface Props {
  run: string;
  runs: RunSummary[];
  slicer: string | null;
  onRunCreated: (id: string) => void;
}

function fieldType(f: Field): string {
  return f.type ?? f.anyOf?.find((a) => a.type && a.type !== "null")?.type ?? "string";
}

function ParamsForm({ strategy, values, onChange }: { strategy: Strategy; values: Record<string, unknown>; onChange: (v: Record<string, unknown>) => void }) {
  const props = strategy.params_schema.properties ?? {};
  return (
    <div className="params">
      {Object.entries(props).map(([name, f]) => {
        const t = fieldType(f);
        const v = values[name] ?? f.default ?? "";
        if (t === "array" || t === "object") return null; // edited from the CLI / Python
        return (
          <label key={name} title={f.description}>
            {name}{" "}
            {f.enum ? (
              <select value={String(v)} onChange={(e) => onChange({ ...values, [name]: e.target.value })}>
                {f.enum.map((o) => <option key={String(o)} value={String(o)}>{String(o)}</option>)}
              </select>
            ) : t === "boolean" ? (
              <input type="checkbox" checked={Boolean(v)} onChange={(e) => onChange({ ...values, [name]: e.target.checked })} />
            ) : (
              <input value={String(v ?? "")} size={8} type={t === "number" || t === "integer" ? "number" : "text"}
                onChange={(e) => onChange({ ...values, [name]: t === "number" || t === "integer" ? Number(e.target.value) : e.target.value })} />
            )}
          </label>
        );
      })}
    </div>
  );
}

function SliceChart({ rows, split }: { rows: SliceCmp[]; split: string }) {
  const make = useCallback(() => {
    const data = rows.slice(0, 30);
    const withControl = data.filter((d) => d.acc_control !== undefined && d.acc_control !== null);
    return Plot.plot({
      height: 22 * data.length + 50, width: 560, marginLeft: 120,
      x: { label: `accuracy on the ${split} split`, domain: [0, 1], grid: true },
      y: { label: null, domain: data.map((d) => d.slice_id) },
      color: { legend: true, domain: withControl.length ? ["before", "control", "after"] : ["before", "after"], range: withControl.length ? ["#9a9a9a", "#f59e0b", "#2563eb"] : ["#9a9a9a", "#2563eb"] },
      marks: [
        Plot.link(data, { x1: "acc_before", x2: "acc_after", y1: "slice_id", y2: "slice_id", stroke: (d: SliceCmp) => (d.delta >= 0 ? "#2ca02c" : "#d62728"), markerEnd: "arrow" }),
        Plot.dot(data, { x: "acc_before", y: "slice_id", fill: () => "before", r: 3 }),
        Plot.dot(withControl, { x: "acc_control", y: "slice_id", fill: () => "control", r: 3, symbol: "diamond" }),
        Plot.dot(data, { x: "acc_after", y: "slice_id", fill: () => "after", r: 3, tip: true }),
      ],
    });
  }, [rows, split]);
  return <PlotFigure make={make} testId="compare-chart" />;
}

function Comparison({ after, before, slicer }: { after: string; before: string; slicer: string | null }) {
  const [version, setVersion] = useState(0);
  const [jobId, setJobId] = useState<string | null>(null);
  const report = useAsync(() => get<Report>(`/runs/${encodeURIComponent(after)}/compare/${encodeURIComponent(before)}`), [after, before, version]);
  const missing = report.error !== null && !report.loading;
  const start = async () => {
    const j = await send<Job>("POST", `/runs/${encodeURIComponent(after)}/compare/jobs`, { baseline: before, slicer });
    setJobId(j.id);
  };
  return (
    <div className="compare" data-testid="comparison">
      <h3>{before} → {after}</h3>
      {missing && !jobId && <div className="notice">Not compared yet. <button onClick={start}>compare now</button></div>}
      {jobId && <JobProgress jobId={jobId} onEnd={() => { setJobId(null); setVersion((v) => v + 1); }} />}
      {report.data && (
        <>
          <p className="note">{report.data.split} split, {report.data.n} samples; core/spurious regions from {report.data.mask_source}: {report.data.mask_note}</p>
          <table>
            <thead><tr><th>model</th><th className="num">clean</th><th className="num">core</th><th className="num">spurious</th><th className="num">RCS</th><th className="num">average</th><th className="num">worst slice</th><th className="num">worst group</th></tr></thead>
            <tbody>
              {report.data.models.map((m) => (
                <tr key={m.run} className={`role-${m.role}`}><td>{m.role === "control" ? "matched control" : m.role}: {m.run}</td><td className="num">{pct(m.clean)}</td><td className="num">{pct(m.core)}</td><td className="num">{pct(m.spurious)}</td><td className="num">{fmt(m.rcs, 3)}</td><td className="num">{pct(m.average)}</td>
                  <td className="num">{m.worst_slice ? `${pct(m.worst_slice_accuracy)} (${m.worst_slice})` : "–"}</td>
                  <td className="num">{m.worst_group ? `${pct(m.worst_group_accuracy)} (${m.worst_group})` : "–"}</td></tr>
              ))}
            </tbody>
          </table>
          {report.data.verdict && (
            <p className={report.data.control ? (report.data.verdict.includes("NOT") ? "verdict bad" : "verdict good") : "verdict warn"} data-testid="repair-verdict">
              {report.data.control ? "Against its matched control: " : ""}{report.data.verdict}
              {Object.keys(report.data.versus_control ?? {}).length > 0 && (
                <small> (repair − control: {Object.entries(report.data.versus_control).map(([k, v]) => `${k.replace("_accuracy", "")} ${v >= 0 ? "+" : ""}${fmt(v, 3)}`).join(", ")})</small>
              )}
            </p>
          )}
          {report.data.slices.length > 0 && <><h3>Per slice ({report.data.slicer})</h3><SliceChart rows={report.data.slices} split={report.data.split} /></>}
          {report.data.groups.length > 0 && (
            <table>
              <thead><tr><th>group</th><th className="num">n</th><th className="num">before</th><th className="num">after</th><th className="num">change</th></tr></thead>
              <tbody>{report.data.groups.map((g) => <tr key={g.group}><td>{g.group}</td><td className="num">{g.n}</td><td className="num">{pct(g.acc_before)}</td><td className="num">{pct(g.acc_after)}</td><td className="num">{fmt(g.delta, 3)}</td></tr>)}</tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

export default function RepairView({ run, runs, slicer, onRunCreated }: Props) {
  const strategies = useAsync(() => get<Strategy[]>("/repair/strategies"), []);
  const [name, setName] = useState<string>("");
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const info = runs.find((r) => r.id === run);
  const [before, setBefore] = useState<string>(info?.base_run ?? "");
  useEffect(() => setBefore(info?.base_run ?? runs.find((r) => r.id !== run)?.id ?? ""), [run, info?.base_run, runs]);
  useEffect(() => {
    if (!name && strategies.data?.length) setName(strategies.data.find((s) => s.default)?.name ?? strategies.data[0].name);
  }, [strategies.data, name]);
  const strategy = strategies.data?.find((s) => s.name === name);

  const start = async () => {
    setError(null);
    try {
      setJobId((await send<Job>("POST", `/runs/${encodeURIComponent(run)}/repair/jobs`, { strategy: name, params: values, slicer })).id);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  return (
    <div className="view repair" data-testid="repair-view">
      <h2>Repair <small>plan a change of the training data, retrain, and compare</small></h2>
      <div className="toolbar">
        <label>
          strategy{" "}
          <select value={name} onChange={(e) => { setName(e.target.value); setValues({}); }} data-testid="repair-strategy">
            {strategies.data?.map((s) => <option key={s.name} value={s.name}>{s.name}{s.default ? " (default)" : ""}</option>)}
          </select>
        </label>
        <button onClick={start} disabled={!name || !!jobId} data-testid="repair-start">start repair of {run}</button>
      </div>
      {strategy && <p className="note">{strategy.doc}</p>}
      {strategy && <ParamsForm strategy={strategy} values={values} onChange={setValues} />}
      {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") onRunCreated((j.result as { run: string }).run); else setError(j.error); }} />}
      {error && <div className="error" role="alert">{error}</div>}
      <h2>Compare runs</h2>
      <div className="toolbar">
        <label>
          before{" "}
          <select value={before} onChange={(e) => setBefore(e.target.value)} data-testid="compare-before">
            <option value="">(choose a run)</option>
            {runs.filter((r) => r.id !== run).map((r) => <option key={r.id} value={r.id}>{r.id}</option>)}
          </select>
        </label>
        <span>after: <b>{run}</b>{info?.plan ? ` (${info.plan})` : ""}</span>
      </div>
      {before ? <Comparison after={run} before={before} slicer={slicer} /> : <p className="empty">This workspace has one run: start a repair to get a second one to compare.</p>}
    </div>
  );
}
