// Training-data attribution (TDA needfinding study Sec. 5.1-5.2): for the selected error
// group, the ranked table of training groups x actions, each effect with its interval
// and p-value and the change of overall (validation) accuracy beside it; a forest plot
// of the effects; the training images of a chosen group; and applying a row (retrain,
// after a confirmation that states the plan). One selector names the error group, and the
// table always answers that group (or says it has not been computed for it).
import * as Plot from "@observablehq/plot";
import { useCallback, useEffect, useState } from "react";
import {
  fmt, get, send, type Job, type SamplePage, type SliceRow, type TdaResult, type TdaRow,
  type TdaSummary,
} from "../api";
import { Caption, Lightbox, Thumb } from "./Images";
import { useAsync } from "../hooks";
import JobProgress from "./JobProgress";
import PlotFigure from "./PlotFigure";

type Summary = TdaSummary;
type Row = TdaRow;
type Result = TdaResult;

interface Props {
  run: string;
  slicer: string | null;
  row: SliceRow | null;
  classes: string[];
  onRunCreated: (id: string) => void;
}

/** The error-group spec a stored result answers ("slicer:slice" or "A->B"), from its name. */
export function specOf(name: string): string | null {
  const sl = /^slice ([^:\s]+):(\S+?)(?: errors)?(?::|$)/.exec(name);
  if (sl) return `${sl[1]}:${sl[2]}`;
  const cm = /^true (.+), predicted (.+?) \(/.exec(name);
  return cm ? `${cm[1]}->${cm[2]}` : null;
}

const specLabel = (spec: string) =>
  spec.includes("->") ? `label ${spec.replace("->", ", predicted ")}` : `errors of slice ${spec.split(":").slice(1).join(":")}`;

const ci = (lo: number | null, hi: number | null) => (lo === null || hi === null ? "" : ` [${fmt(lo, 3)}, ${fmt(hi, 3)}]`);

function Forest({ rows, metric }: { rows: Row[]; metric: string }) {
  const make = useCallback(() => {
    const data = rows.filter((r) => r.effect !== null).slice(0, 15).map((r) => ({ ...r, label: `${r.rank}. ${r.action} ${r.group}`.slice(0, 48) }));
    return Plot.plot({
      height: 26 * data.length + 40, width: 620, marginLeft: 300,
      x: { label: `change of ${metric} on the error group`, grid: true },
      y: { label: null, domain: data.map((d) => d.label) },
      marks: [
        Plot.ruleX([0], { stroke: "#999" }),
        Plot.link(data.filter((d) => d.ci_low !== null), { x1: "ci_low", x2: "ci_high", y1: "label", y2: "label", stroke: "#555" }),
        Plot.dot(data, { x: "effect", y: "label", fill: (d: Row) => (d.significant ? "#d62728" : "#9a9a9a"), r: 4, tip: true }),
      ],
    });
  }, [rows, metric]);
  return <PlotFigure make={make} testId="tda-forest" />;
}

export default function TdaView({ run, slicer, row, classes, onRunCreated }: Props) {
  const enc = encodeURIComponent(run);
  const [version, setVersion] = useState(0);
  const list = useAsync(() => get<Summary[]>(`/runs/${enc}/tda`), [run, version]);
  const [spec, setSpec] = useState<string>("");
  const [metric, setMetric] = useState("loss");
  const [exact, setExact] = useState(true);
  const [jobId, setJobId] = useState<string | null>(null);
  const [applyJob, setApplyJob] = useState<string | null>(null);
  const [asking, setAsking] = useState<Row | null>(null);
  const [made, setMade] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [chosen, setChosen] = useState<number | null>(null);
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<number | null>(null);

  const cells = classes.flatMap((a) => classes.filter((b) => b !== a).map((b) => `${a}->${b}`));
  const computed = (list.data ?? []).map((r) => ({ ...r, spec: specOf(r.error_group) }));
  const rowSpec = row && slicer ? `${slicer}:${row.id}` : null;
  const options = [...new Set([...(rowSpec ? [rowSpec] : []), ...computed.map((c) => c.spec).filter((x): x is string => !!x), ...cells])];
  useEffect(() => {
    if (rowSpec) setSpec(rowSpec);
  }, [rowSpec]);
  useEffect(() => {
    if (!spec && options.length) setSpec(rowSpec ?? computed[computed.length - 1]?.spec ?? options[0]);
  }, [spec, options.length]); // eslint-disable-line react-hooks/exhaustive-deps
  // the result shown is the newest one computed for the chosen group, never another group's
  const answers = computed.filter((c) => c.spec === spec);
  const key = answers.length ? answers[answers.length - 1].key : null;
  useEffect(() => { setChosen(null); setPage(0); }, [key]);

  const result = useAsync(() => (key ? get<Result>(`/runs/${enc}/tda/${encodeURIComponent(key)}`) : null), [run, key, version]);
  const members = useAsync(
    () => (key && chosen ? get<SamplePage>(`/runs/${enc}/tda/${encodeURIComponent(key)}/rows/${chosen}/members?page=${page}&page_size=24`) : null),
    [run, key, chosen, page],
  );

  const start = async () => {
    setError(null);
    try {
      const job = await send<Job>("POST", `/runs/${enc}/tda/jobs`, { error_group: spec, params: { metric, exact } });
      setJobId(job.id);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const apply = async (rank: number) => {
    setAsking(null);
    try {
      setApplyJob((await send<Job>("POST", `/runs/${enc}/tda/${encodeURIComponent(key!)}/rows/${rank}/apply`, {})).id);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div className="view tda" data-testid="tda-view">
      <h2>Training-data attribution <small>which training data caused an error group, and what would fix it</small></h2>
      <div className="toolbar">
        <label>
          error group{" "}
          <select value={spec} onChange={(e) => setSpec(e.target.value)} data-testid="tda-group">
            {options.map((o) => (
              <option key={o} value={o}>{specLabel(o)}{computed.some((c) => c.spec === o) ? " ✓ computed" : ""}</option>
            ))}
          </select>
        </label>
        <label>
          metric{" "}
          <select value={metric} onChange={(e) => setMetric(e.target.value)}>
            <option value="loss">loss</option>
            <option value="gt_prob">probability of the true class</option>
            <option value="pred_prob">probability of the predicted class</option>
          </select>
        </label>
        <label><input type="checkbox" checked={exact} onChange={(e) => setExact(e.target.checked)} /> measure the top rows by retraining</label>
        <button disabled={!spec || !!jobId} onClick={start} data-testid="tda-start">attribute</button>
        {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") setVersion((v) => v + 1); else setError(j.error); }} />}
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      {list.data && !key && !jobId && (
        <div className="empty" data-testid="tda-missing">No attribution computed for {spec ? specLabel(spec) : "this group"} yet: press <b>attribute</b> (or run <code>slicelens tda</code>).
          {computed.length > 0 && <> Computed for: {computed.map((c) => c.error_group).join("; ")}.</>}</div>
      )}
      {result.data && (
        <div className="tda-result">
          <p className="note">
            {result.data.error_group}: {result.data.n_errors} samples. Effect = change of {result.data.metric} on them
            ({result.data.metric === "loss" ? "negative" : result.data.metric === "gt_prob" ? "positive" : "negative"} is better); red = significant after correction.
          </p>
          <Forest rows={result.data.rows} metric={result.data.metric} />
          <div className="scroll">
            <table data-testid="tda-table">
              <thead>
                <tr><th>#</th><th>training group</th><th className="num">size</th><th>action</th><th className="num">effect [95% CI]</th><th className="num">p</th><th className="num">val acc change [CI]</th><th className="num">errors fixed</th><th>method</th><th /></tr>
              </thead>
              <tbody>
                {result.data.rows.map((r) => (
                  <tr key={r.rank} className={chosen === r.rank ? "selected" : ""} onClick={() => { setChosen(r.rank); setPage(0); }}>
                    <td>{r.rank}</td>
                    <td title={r.detail}>{r.group} <small>({r.kind})</small></td>
                    <td className="num">{r.size}</td>
                    <td>{r.action}</td>
                    <td className="num">{fmt(r.effect, 3)}{ci(r.ci_low, r.ci_high)}{r.significant ? " *" : ""}</td>
                    <td className="num">{r.p_value === null ? "–" : r.p_value.toExponential(1)}</td>
                    <td className="num">{fmt(r.global_effect, 3)}{ci(r.global_ci_low, r.global_ci_high)}</td>
                    <td className="num">{fmt(r.errors_fixed, 2)}</td>
                    <td>{r.method}{r.n_retrains ? ` ×${r.n_retrains}` : ""}</td>
                    <td><button onClick={(e) => { e.stopPropagation(); setAsking(r); }} disabled={!!applyJob} data-testid="tda-apply">apply & retrain…</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {applyJob && <JobProgress jobId={applyJob} onEnd={(j) => { setApplyJob(null); if (j.status === "done") setMade((j.result as { run: string }).run); else setError(j.error); }} />}
          {made && <div className="notice">New run {made} made. <button onClick={() => onRunCreated(made)}>compare it in the Repair tab</button></div>}
          {asking && (
            <div className="modal" onClick={(e) => e.target === e.currentTarget && setAsking(null)}>
              <div className="modal-body confirm" role="dialog" aria-label="confirm retraining" data-testid="confirm-dialog">
                <h3>Retrain {run} with this change?</h3>
                <ul className="plan-summary" data-testid="plan-summary">
                  <li><b>plan:</b> {asking.action} the training group {asking.group} ({asking.size} images)</li>
                  <li><b>why:</b> effect on {result.data.error_group}: {fmt(asking.effect, 3)}{ci(asking.ci_low, asking.ci_high)} ({result.data.metric}), validation accuracy change {fmt(asking.global_effect, 3)}</li>
                  <li><b>trains:</b> a new model on the changed training data, and its matched control; minutes on a CPU</li>
                  <li><b>makes:</b> a new run beside {run} (nothing is overwritten)</li>
                </ul>
                <div className="actions">
                  <button onClick={() => setAsking(null)}>cancel</button>
                  <button className="primary" onClick={() => apply(asking.rank)} data-testid="confirm-retrain">retrain</button>
                </div>
              </div>
            </div>
          )}
        </div>
      )}
      {chosen && members.data && (
        <div className="detail">
          <h3>Training images of row {chosen} <small>{members.data.total} samples</small>
            <span className="pager">
              <button disabled={page === 0} onClick={() => setPage(page - 1)}>‹</button> page {page + 1} / {Math.max(1, Math.ceil(members.data.total / 24))}
              <button disabled={(page + 1) * 24 >= members.data.total} onClick={() => setPage(page + 1)}>›</button>
            </span>
          </h3>
          <div className="grid" data-testid="tda-images" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(136px, 1fr))" }}>
            {members.data.items.map((s, i) => (
              <figure key={s.id} className={s.correct === false ? "wrong" : "right"} onClick={() => setOpen(i)} title={`${s.id} (click to enlarge)`}>
                <Thumb run={run} sample={s} size={128} opacity={null} />
                <Caption s={s} />
              </figure>
            ))}
          </div>
          {open !== null && <Lightbox run={run} items={members.data.items} index={open} opacity={0.6} onIndex={setOpen} onClose={() => setOpen(null)} />}
        </div>
      )}
    </div>
  );
}
