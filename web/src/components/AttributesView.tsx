// Attributes (HiBug Sec. 3, App. 7.2): a histogram of values per attribute, editing of
// attribute names and values, and the attribute bug-slice table with bug types.
import * as Plot from "@observablehq/plot";
import { useCallback, useState } from "react";
import { get, send, setPath, type Job, type SliceTable as Table } from "../api";
import { useAsync } from "../hooks";
import JobProgress from "./JobProgress";
import PlotFigure from "./PlotFigure";
import SliceTable from "./SliceTable";

interface Bar { value: string; n: number; mean_score: number | null }
interface Attr { name: string; values: string[]; backend: string | null; histogram: Bar[] }
interface Attrs { status: string; command: string; split: string; source: string | null; attributes: Attr[]; has_bug_slices: boolean }

interface Props {
  run: string;
  version: number;
  onChanged: () => void;
  onOpenSlice: (slicer: string, id: string) => void;
}

function Histogram({ attr }: { attr: Attr }) {
  const make = useCallback(
    () => Plot.plot({
      height: 170, width: 330, marginBottom: 46, marginLeft: 44,
      x: { label: null, tickRotate: -25, domain: attr.histogram.map((b) => b.value) },
      y: { label: "samples", grid: true },
      marks: [Plot.barY(attr.histogram, { x: "value", y: "n", fill: "#4c78a8", tip: true }), Plot.ruleY([0])],
    }),
    [attr],
  );
  return <PlotFigure make={make} testId={`histogram-${attr.name}`} />;
}

function AttributeCard({ run, attr, onSaved }: { run: string; attr: Attr; onSaved: () => void }) {
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
        <Histogram attr={attr} />
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
      <div className="attr-grid">
        {attrs.data?.attributes.map((a) => <AttributeCard key={a.name} run={run} attr={a} onSaved={onChanged} />)}
      </div>
      {bugs.data && (
        <>
          <h2>Attribute bug slices <small>accuracy below the overall; rare case or spurious correlation</small></h2>
          {bugs.data.slices.length === 0 ? (
            <p className="empty">No attribute combination has accuracy below the overall accuracy with enough samples.</p>
          ) : (
            <SliceTable table={bugs.data} selected={null} encoding="accuracy" onSelect={(id) => onOpenSlice("attributes", id)} />
          )}
        </>
      )}
    </div>
  );
}
