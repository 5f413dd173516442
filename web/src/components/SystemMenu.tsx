// System menu (AttributionScanner Fig. 2 A): run, slicer, layout, colour encoding, and who
// is annotating. A slicer that has not run on this run yet can be started as a job.
import { useState } from "react";
import { send, setPath, type Job, type Meta, type RunSummary } from "../api";
import { ENCODINGS, type Encoding } from "../colors";
import JobProgress from "./JobProgress";

export type Layout = "grid" | "combined" | "confusion";

interface Props {
  meta: Meta | null;
  runs: RunSummary[];
  run: string | null;
  onRun: (r: string) => void;
  slicer: string | null;
  onSlicer: (s: string) => void;
  layout: Layout;
  onLayout: (l: Layout) => void;
  encoding: Encoding;
  onEncoding: (e: Encoding) => void;
  author: string;
  onAuthor: (a: string) => void;
  onSlicesComputed: (slicer: string) => void;
}

export default function SystemMenu(p: Props) {
  const runInfo = p.runs.find((r) => r.id === p.run);
  const stored = runInfo?.slice_sets ?? [];
  const registry = p.meta?.slicers ?? [];
  const [toCompute, setToCompute] = useState<string>("");
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const candidates = registry.filter((s) => !stored.includes(s));

  const start = async () => {
    if (!p.run || !toCompute) return;
    setError(null);
    try {
      const job = await send<Job>("POST", `${setPath(p.run, toCompute)}/jobs`, { params: {}, split: "val" });
      setJobId(job.id);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <header className="menu" aria-label="system menu">
      <span className="brand">slicelens</span>
      <label>
        Run
        <select data-testid="run-select" value={p.run ?? ""} onChange={(e) => p.onRun(e.target.value)}>
          {p.runs.map((r) => (
            <option key={r.id} value={r.id}>
              {r.id} (val acc {r.accuracy.val !== undefined && r.accuracy.val !== null ? r.accuracy.val.toFixed(3) : "–"})
              {r.is_control ? " · matched control" : r.base_run ? ` · repair of ${r.base_run}` : r.slice_sets.length ? " · analysed" : ""}
            </option>
          ))}
        </select>
      </label>
      <label>
        Slicer
        <select data-testid="slicer-select" value={p.slicer ?? ""} onChange={(e) => p.onSlicer(e.target.value)}>
          {stored.length === 0 && <option value="">(none computed)</option>}
          {stored.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
      </label>
      {candidates.length > 0 && (
        <span className="compute">
          <select aria-label="slicer to run" value={toCompute} onChange={(e) => setToCompute(e.target.value)}>
            <option value="">run a slicer…</option>
            {candidates.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
          <button disabled={!toCompute || !!jobId} onClick={start}>Find slices</button>
        </span>
      )}
      <label>
        Layout
        <select data-testid="layout-select" value={p.layout} onChange={(e) => p.onLayout(e.target.value as Layout)}>
          <option value="grid">grid (gallery)</option>
          <option value="combined">combined</option>
          <option value="confusion">confusion matrix</option>
        </select>
      </label>
      <label>
        Colour
        <select data-testid="color-select" value={p.encoding} onChange={(e) => p.onEncoding(e.target.value as Encoding)}>
          {ENCODINGS.map((e) => (
            <option key={e.value} value={e.value}>{e.label}</option>
          ))}
        </select>
      </label>
      <label>
        You
        <input data-testid="author" placeholder={p.meta?.author ?? "anonymous"} value={p.author}
          onChange={(e) => p.onAuthor(e.target.value)} size={10} />
      </label>
      {jobId && (
        <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") p.onSlicesComputed(toCompute); else setError(j.error); }} />
      )}
      {error && <span className="error" role="alert">{error}</span>}
    </header>
  );
}
