// Repair: start a registered strategy as a background job with progress (its form comes
// from the strategy's parameter schema), after a confirmation that says what will be
// retrained; then compare the base run with its newest repair AND the repair's matched
// control (same start, epochs, seed, early stopping, unchanged data): clean / core /
// spurious accuracy, RCS, worst slice / group, and per slice of the BASE run's slice set
// (the repaired run has none), changes coloured and sorted worst first, and a verdict.
import * as Plot from "@observablehq/plot";
import { useCallback, useEffect, useState } from "react";
import { ApiError, fmt, get, pct, send, uploadOracle, type Annotation, type ComparedGroup, type ComparedSlice, type Comparison as Report, type Job, type RunSummary, type Strategy as StrategyOut, type Upload } from "../api";
import { useAsync } from "../hooks";
import JobProgress from "./JobProgress";
import PlotFigure from "./PlotFigure";

// the API sends the parameters' JSON schema as an open object; the form reads these keys
type Strategy = Omit<StrategyOut, "params_schema"> & { params_schema: { properties?: Record<string, Field> } };
interface Field { type?: string; default?: unknown; description?: string; enum?: unknown[]; anyOf?: Field[] }
// a row of the per-slice or per-group change table (the API's generated types)
type ChangeRow = ComparedSlice | ComparedGroup;

interface Props {
  run: string;
  runs: RunSummary[];
  onRunCreated: () => void;
}

function fieldType(f: Field): string {
  return f.type ?? f.anyOf?.find((a) => a.type && a.type !== "null")?.type ?? "string";
}

/** A label oracle: chosen from this workspace's uploads or uploaded now (a CSV with an
 * `id` column); the job gets the upload's id. */
function OracleField({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [error, setError] = useState("");
  useEffect(() => { get<Upload[]>("/uploads/oracles").then(setUploads).catch(() => setUploads([])); }, []);
  const upload = async (file: File | undefined) => {
    if (!file) return;
    setError("");
    try {
      const up = await uploadOracle(file);
      setUploads((u) => [...u.filter((x) => x.id !== up.id), up]);
      onChange(up.id);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <span className="oracle-field">
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid="oracle-select">
        <option value="">(none)</option>
        {uploads.map((u) => <option key={u.id} value={u.id}>{u.name} ({u.rows} rows)</option>)}
      </select>
      <input type="file" accept=".csv,text/csv" data-testid="oracle-file"
        onChange={(e) => upload(e.target.files?.[0])} />
      {error && <span className="error">{error}</span>}
    </span>
  );
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
            {name === "oracle" ? (
              <OracleField value={String(values[name] ?? "")} onChange={(id) => onChange({ ...values, [name]: id })} />
            ) : f.enum ? (
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

/** A change in accuracy as signed percentage points, coloured (red = worse). */
export function Delta({ v, testId }: { v: number | null | undefined; testId?: string }) {
  if (v === null || v === undefined || Number.isNaN(v)) return <span>–</span>;
  const pp = 100 * v;
  const cls = pp <= -5 ? "delta bad strong" : pp < -0.05 ? "delta bad" : pp >= 5 ? "delta good strong" : pp > 0.05 ? "delta good" : "delta";
  return <span className={cls} data-testid={testId}>{pp > 0 ? "+" : pp < 0 ? "−" : "±"}{Math.abs(pp).toFixed(1)} pp</span>;
}

// null (NaN on the server) sorts as 0, as JavaScript's arithmetic did before the types
const worstFirst = <T extends { delta?: number | null }>(rows: T[]) => [...rows].sort((a, b) => (a.delta ?? 0) - (b.delta ?? 0));

function SliceChart({ rows, split }: { rows: ComparedSlice[]; split: string }) {
  const make = useCallback(() => {
    const data = worstFirst(rows).slice(0, 30);
    const withControl = data.filter((d) => d.acc_control !== undefined && d.acc_control !== null);
    return Plot.plot({
      height: 24 * data.length + 60, width: 640, marginLeft: 130, style: { background: "transparent" },
      x: { label: `accuracy on the ${split} split →`, domain: [0, 1], tickFormat: "%", grid: true },
      y: { label: null, domain: data.map((d) => d.slice_id) },
      color: { legend: true, domain: withControl.length ? ["before", "matched control", "after"] : ["before", "after"], range: withControl.length ? ["#9a9a9a", "#f59e0b", "#2563eb"] : ["#9a9a9a", "#2563eb"] },
      marks: [
        Plot.link(data, { x1: "acc_before", x2: "acc_after", y1: "slice_id", y2: "slice_id", stroke: (d: ComparedSlice) => ((d.delta ?? 0) >= 0 ? "#2ca02c" : "#d62728"), strokeWidth: 2, markerEnd: "arrow" }),
        Plot.dot(data, { x: "acc_before", y: "slice_id", fill: () => "before", r: 4 }),
        Plot.dot(withControl, { x: "acc_control", y: "slice_id", fill: () => "matched control", r: 4, symbol: "diamond" }),
        Plot.dot(data, { x: "acc_after", y: "slice_id", fill: () => "after", r: 4, tip: true }),
      ],
    });
  }, [rows, split]);
  return <PlotFigure make={make} testId="compare-chart" />;
}

const rowName = (g: ChangeRow): string => ("group" in g ? g.group : g.slice_id);

function ChangeTable({ rows, name, testId }: { rows: ChangeRow[]; name: string; testId: string }) {
  return (
    <table data-testid={testId} className="change-table">
      <thead><tr><th>{name}</th><th className="num">n</th><th className="num">before</th><th className="num">matched control</th><th className="num">after</th><th className="num">change</th><th className="num">after − control</th></tr></thead>
      <tbody>{worstFirst(rows).map((g) => (
        <tr key={rowName(g)}><td>{rowName(g)}</td><td className="num">{g.n}</td><td className="num">{pct(g.acc_before)}</td>
          <td className="num">{pct(g.acc_control)}</td><td className="num">{pct(g.acc_after)}</td>
          <td className="num"><Delta v={g.delta} testId="delta" /></td><td className="num"><Delta v={g.delta_vs_control} /></td></tr>
      ))}</tbody>
    </table>
  );
}

function Comparison({ after, before, slicer }: { after: string; before: string; slicer: string | null }) {
  const [version, setVersion] = useState(0);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const report = useAsync(() => get<Report>(`/runs/${encodeURIComponent(after)}/compare/${encodeURIComponent(before)}`), [after, before, version]);
  const start = async () => {
    setError(null);
    try {
      const j = await send<Job>("POST", `/runs/${encodeURIComponent(after)}/compare/jobs`, { baseline: before, slicer });
      setJobId(j.id);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const r = report.data;
  return (
    <div className="compare" data-testid="comparison">
      <h3>{before} → {after}</h3>
      {r && !r.computed && !jobId && <div className="notice" data-testid="not-compared">Not compared yet (evaluation only, nothing is retrained). <button onClick={start}>compare now</button></div>}
      {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") setVersion((v) => v + 1); else setError(j.error); }} />}
      {(error || report.error) && <div className="error" role="alert">{error || report.error}</div>}
      {r?.computed && (
        <>
          <p className="note">{r.split} split, {r.n} samples; core/spurious regions from {r.mask_source}: {r.mask_note}</p>
          <table className="models">
            <thead><tr><th>model</th><th className="num">clean</th><th className="num">core</th><th className="num">spurious</th><th className="num">RCS</th><th className="num">average</th><th className="num">worst slice</th><th className="num">worst group</th></tr></thead>
            <tbody>
              {r.models.map((m) => (
                <tr key={m.run} className={`role-${m.role}`}><td>{m.role === "control" ? "matched control" : m.role}: {m.run}</td><td className="num">{pct(m.clean)}</td><td className="num">{pct(m.core)}</td><td className="num">{pct(m.spurious)}</td><td className="num">{fmt(m.rcs, 3)}</td><td className="num">{pct(m.average)}</td>
                  <td className="num">{m.worst_slice ? `${pct(m.worst_slice_accuracy)} (${m.worst_slice})` : "–"}</td>
                  <td className="num">{m.worst_group ? `${pct(m.worst_group_accuracy)} (${m.worst_group})` : "–"}</td></tr>
              ))}
            </tbody>
          </table>
          {!r.control && <p className="verdict warn">No matched control for this run: the change cannot be told apart from retraining noise.</p>}
          {r.verdict && (
            <p className={r.control ? (r.verdict.includes("NOT") ? "verdict bad" : "verdict good") : "verdict warn"} data-testid="repair-verdict">
              {r.control ? "Against its matched control: " : ""}{r.verdict}
              {Object.keys(r.versus_control ?? {}).length > 0 && (
                <small> (repair − control: {Object.entries(r.versus_control).map(([k, v]) => `${k.replace("_accuracy", "")} ${v >= 0 ? "+" : ""}${fmt(v, 3)}`).join(", ")})</small>
              )}
            </p>
          )}
          {r.groups.length > 0 && <><h3>Per group <small>worst change first</small></h3><ChangeTable rows={r.groups} name="group" testId="group-changes" /></>}
          {r.slices.length > 0 ? (
            <><h3>Per slice of {before} <small>{r.slicer} slices, worst change first; arrow = before → after</small></h3>
              <SliceChart rows={r.slices} split={r.split} />
              <details><summary>table</summary><ChangeTable rows={r.slices} name="slice" testId="slice-changes" /></details></>
          ) : <p className="note">No per-slice comparison: {before} has no {r.slicer ?? ""} slice set.</p>}
        </>
      )}
    </div>
  );
}

function ConfirmRepair({ base, strategy, values, onConfirm, onCancel }: { base: string; strategy: Strategy; values: Record<string, unknown>; onConfirm: () => void; onCancel: () => void }) {
  const marks = useAsync(() => get<Annotation[]>(`/runs/${encodeURIComponent(base)}/annotations`), [base]);
  const active = (marks.data ?? []).filter((m) => m.status === "active");
  const count = (l: string) => active.filter((m) => m.label === l).length;
  const set = Object.entries(values);
  return (
    <div className="modal" onClick={(e) => e.target === e.currentTarget && onCancel()}>
      <div className="modal-body confirm" role="dialog" aria-label="confirm repair" data-testid="confirm-dialog">
        <h3>Retrain {base} with {strategy.name}?</h3>
        <ul className="plan-summary" data-testid="plan-summary">
          <li><b>plan:</b> {strategy.doc || strategy.name}</li>
          <li><b>parameters:</b> {set.length ? set.map(([k, v]) => `${k} = ${String(v)}`).join(", ") : "the defaults"}</li>
          <li><b>reads your marks on {base}:</b> {marks.data ? `${count("spurious")} spurious, ${count("core")} core, ${count("wrong_labels")} wrong labels` : "…"}</li>
          <li><b>trains:</b> a new model on the planned data, and its matched control (same start, epochs and seed on unchanged data; reused if trained before); minutes on a CPU</li>
          <li><b>makes:</b> a new run beside {base} (nothing is overwritten), compared with {base} and the control</li>
        </ul>
        <div className="actions">
          <button onClick={onCancel}>cancel</button>
          <button className="primary" onClick={onConfirm} data-testid="confirm-retrain">retrain</button>
        </div>
      </div>
    </div>
  );
}

const preferredSlicer = (r: RunSummary | undefined) =>
  r ? (r.preferred_slicer ?? r.slice_sets.find((s) => s !== "custom") ?? r.slice_sets[0] ?? null) : null;

export default function RepairView({ run, runs, onRunCreated }: Props) {
  const strategies = useAsync(() => get<Strategy[]>("/repair/strategies"), []);
  const [name, setName] = useState<string>("");
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [jobId, setJobId] = useState<string | null>(null);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // everything is read from the analysed base run, whichever run is open
  const info = runs.find((r) => r.id === run);
  const base = info?.base_run ?? run;
  const baseInfo = runs.find((r) => r.id === base);
  const slicer = preferredSlicer(baseInfo);
  const repairs = runs.filter((r) => r.base_run === base && !r.is_control);
  const newest = repairs.length ? repairs[repairs.length - 1].id : "";
  const [after, setAfter] = useState<string>(newest);
  const [before, setBefore] = useState<string>(base);
  useEffect(() => setBefore(base), [base]);
  useEffect(() => setAfter(info?.base_run && !info.is_control ? run : newest), [run, newest]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!name && strategies.data?.length) setName(strategies.data.find((s) => s.default)?.name ?? strategies.data[0].name);
  }, [strategies.data, name]);
  const strategy = strategies.data?.find((s) => s.name === name);
  const afterInfo = runs.find((r) => r.id === after);

  const start = async () => {
    setAsking(false);
    setError(null);
    try {
      setJobId((await send<Job>("POST", `/runs/${encodeURIComponent(base)}/repair/jobs`, { strategy: name, params: values, slicer })).id);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  return (
    <div className="view repair" data-testid="repair-view">
      <h2>Repair {base} <small>plan a change of the training data, retrain, and compare with a matched control</small></h2>
      <div className="toolbar">
        <label>
          strategy{" "}
          <select value={name} onChange={(e) => { setName(e.target.value); setValues({}); }} data-testid="repair-strategy">
            {strategies.data?.map((s) => <option key={s.name} value={s.name}>{s.name}{s.default ? " (default)" : ""}</option>)}
          </select>
        </label>
        <button onClick={() => setAsking(true)} disabled={!name || !!jobId} data-testid="repair-start">start repair of {base}…</button>
      </div>
      {strategy && <p className="note">{strategy.doc}</p>}
      {strategy && <ParamsForm strategy={strategy} values={values} onChange={setValues} />}
      {asking && strategy && <ConfirmRepair base={base} strategy={strategy} values={values} onConfirm={start} onCancel={() => setAsking(false)} />}
      {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") { setAfter((j.result as { run: string }).run); onRunCreated(); } else setError(j.error); }} />}
      {error && <div className="error" role="alert">{error}</div>}
      <h2>What changed</h2>
      <div className="toolbar">
        <label>
          before{" "}
          <select value={before} onChange={(e) => setBefore(e.target.value)} data-testid="compare-before">
            {runs.filter((r) => r.id !== after).map((r) => <option key={r.id} value={r.id}>{r.id}{r.id === base ? " (analysed base)" : ""}</option>)}
          </select>
        </label>
        <label>
          after{" "}
          <select value={after} onChange={(e) => setAfter(e.target.value)} data-testid="compare-after">
            {!after && <option value="">(no repair yet)</option>}
            {runs.filter((r) => r.id !== before).map((r) => <option key={r.id} value={r.id}>{r.id}{r.is_control ? " (matched control)" : r.base_run ? ` (repair of ${r.base_run})` : ""}</option>)}
          </select>
        </label>
        {afterInfo?.plan && <span className="note">plan: {afterInfo.plan}{afterInfo.control_run ? ` · matched control ${afterInfo.control_run}` : ""}</span>}
      </div>
      {before && after ? <Comparison after={after} before={before} slicer={slicer} />
        : <p className="empty">No repair of {base} yet: start one above; its result is compared here with {base} and its matched control.</p>}
    </div>
  );
}
