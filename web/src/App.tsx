// The slicelens app: a system menu, then coordinated views of one slice set. Selecting a
// slice anywhere (table, mosaic, scatter) selects it everywhere; every mark refreshes the
// slice table, so propagated spuriousness updates in every view at once.
import { useCallback, useEffect, useMemo, useState } from "react";
import { get, getPoints, setPath, type Meta, type MosaicStatus, type RunSummary, type SliceTable as Table } from "./api";
import { useAsync } from "./hooks";
import type { Encoding } from "./colors";
import SystemMenu, { type Layout } from "./components/SystemMenu";
import SliceTable from "./components/SliceTable";
import Mosaic from "./components/Mosaic";
import Scatter from "./components/Scatter";
import SliceDetail from "./components/SliceDetail";
import AnnotationPanel from "./components/AnnotationPanel";
import AttributesView from "./components/AttributesView";
import TdaView from "./components/TdaView";
import ConceptView from "./components/ConceptView";
import RepairView from "./components/RepairView";

export type Tab = "slices" | "attributes" | "tda" | "repair" | "concepts";
const TABS: { value: Tab; label: string }[] = [
  { value: "slices", label: "Slices" },
  { value: "attributes", label: "Attributes" },
  { value: "tda", label: "Training data" },
  { value: "repair", label: "Repair" },
  { value: "concepts", label: "Concepts" },
];

/** The newest analysed base run (slices, not a repair or a control), else a fallback. */
export function defaultRun(runs: RunSummary[]): string {
  const newest = (rs: RunSummary[]) => (rs.length ? rs[rs.length - 1].id : null);
  return newest(runs.filter((r) => r.slice_sets.length > 0 && !r.base_run && !r.is_control))
    ?? newest(runs.filter((r) => r.slice_sets.length > 0)) ?? runs[runs.length - 1].id;
}

function fromUrl(key: string): string | null {
  return new URLSearchParams(window.location.search).get(key);
}

export default function App() {
  const [run, setRun] = useState<string | null>(fromUrl("run"));
  const [slicer, setSlicer] = useState<string | null>(fromUrl("slicer"));
  const [selected, setSelected] = useState<string | null>(fromUrl("slice"));
  const [layout, setLayout] = useState<Layout>((fromUrl("layout") as Layout) || "grid");
  const [encoding, setEncoding] = useState<Encoding>((fromUrl("color") as Encoding) || "accuracy");
  const [tab, setTab] = useState<Tab>((fromUrl("tab") as Tab) || "slices");
  const [author, setAuthor] = useState<string>(localStorage.getItem("slicelens.author") || "");
  const [version, setVersion] = useState(0); // bumped by every mark and finished job: reloads the runs
  const [annotating, setAnnotating] = useState<string | null>(null);
  const refresh = useCallback(() => setVersion((v) => v + 1), []);

  const meta = useAsync(() => get<Meta>("/meta"), []);
  // runs are reloaded explicitly, so that a new slice set or run is known before it is chosen
  const [runs, setRuns] = useState<{ data: RunSummary[] | null; error: string | null }>({ data: null, error: null });
  const reloadRuns = useCallback(
    () => get<RunSummary[]>("/runs").then(
      (data) => setRuns({ data, error: null }),
      (e: Error) => setRuns((r) => ({ ...r, error: e.message })),
    ),
    [],
  );
  useEffect(() => {
    reloadRuns();
  }, [reloadRuns, version]);
  const runInfo = runs.data?.find((r) => r.id === run) ?? null;
  const openSlices = useCallback(
    (slicerName: string, sliceId: string | null) =>
      reloadRuns().then(() => {
        setSlicer(slicerName);
        setSelected(sliceId);
        refresh();
      }),
    [reloadRuns, refresh],
  );

  // default run: the analysed base run (after `slicelens demo` the newest runs are repairs
  // and controls without slices or marks), else the newest with slices, else the newest
  useEffect(() => {
    if (!runs.data || !runs.data.length || (run && runs.data.some((r) => r.id === run))) return;
    setRun(defaultRun(runs.data));
  }, [runs.data, run]);
  useEffect(() => {
    if (!runInfo) return;
    if (!slicer || !runInfo.slice_sets.includes(slicer)) {
      const sets = runInfo.slice_sets;
      const pref = runInfo.preferred_slicer ?? sets.find((s) => s !== "custom") ?? sets[0];
      setSlicer(pref ?? null);
    }
  }, [runInfo, slicer]);
  useEffect(() => {
    const q = new URLSearchParams();
    if (run) q.set("run", run);
    if (slicer) q.set("slicer", slicer);
    if (selected) q.set("slice", selected);
    q.set("layout", layout);
    q.set("color", encoding);
    q.set("tab", tab);
    window.history.replaceState(null, "", `?${q}`);
  }, [run, slicer, selected, layout, encoding, tab]);
  useEffect(() => localStorage.setItem("slicelens.author", author), [author]);

  const ready = run && slicer && runInfo?.slice_sets.includes(slicer);
  // the table and the mosaic reload after every change (hooks.ts invalidates the cache);
  // large runs propagate marks in the background: the table asks again every 2 s until
  // the scores are in
  const table = useAsync(() => (ready ? get<Table>(setPath(run!, slicer!)) : null), [run, slicer, ready],
    { poll: (t) => (t.spuriousness_pending ? 2000 : false) });
  // only once the table of THIS set is in: right after a switch the previous set's table
  // is still shown, and its has_layout says nothing of the new set (a set without a
  // layout, e.g. the training-label check, has no points: asking would be a 404)
  const tableHere = table.data?.slicer === slicer ? table.data : null;
  const points = useAsync(
    () => (ready && tableHere?.has_layout ? getPoints(run!, slicer!) : null),
    [run, slicer, ready, tableHere?.has_layout],
    { keep: true },
  );
  const mosaic = useAsync(
    () => (ready ? get<MosaicStatus>(`${setPath(run!, slicer!)}/mosaic`) : null),
    [run, slicer, ready],
  );
  const row = useMemo(
    () => table.data?.slices.find((s) => s.id === selected) ?? null,
    [table.data, selected],
  );
  const classes = runInfo?.classes ?? [];
  const annotateRow = table.data?.slices.find((s) => s.id === annotating) ?? null;

  return (
    <div className="app">
      <SystemMenu
        meta={meta.data}
        runs={runs.data ?? []}
        run={run}
        onRun={(r) => {
          setRun(r);
          setSelected(null);
        }}
        slicer={slicer}
        onSlicer={(s) => {
          setSlicer(s);
          setSelected(null);
        }}
        layout={layout}
        onLayout={setLayout}
        encoding={encoding}
        onEncoding={setEncoding}
        author={author}
        onAuthor={setAuthor}
        onSlicesComputed={(name) => openSlices(name, null)}
      />
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t.value} role="tab" aria-selected={tab === t.value}
            className={tab === t.value ? "tab active" : "tab"} onClick={() => setTab(t.value)}>
            {t.label}
          </button>
        ))}
        {runInfo && (
          <span className="run-facts">
            {runInfo.n_samples.toLocaleString()} samples · classes {runInfo.classes.join(", ")}
            {runInfo.base_run && <> · repairs {runInfo.base_run}</>}
          </span>
        )}
      </nav>
      {(runs.error || table.error) && <div className="error" role="alert">{runs.error || table.error}</div>}
      {runs.data && runs.data.length === 0 && (
        <div className="empty">This workspace has no complete run yet: run <code>slicelens demo</code> or <code>slicelens extract</code>.</div>
      )}
      {tab === "slices" && run && (
        <main className="explore">
          <section className="col-table">
            {!slicer && runInfo && (
              <div className="empty" data-testid="no-slices">
                No slices in run {run} yet: run <code>slicelens slices --run {run}</code>, or pick a
                slicer in the menu and press <b>Find slices</b>.
              </div>
            )}
            {table.data && (
              <SliceTable table={table.data} selected={selected} onSelect={setSelected} encoding={encoding}
                onOpenSet={(name) => openSlices(name, null)} />
            )}
          </section>
          <section className="col-views">
            {table.data && (
              <Mosaic table={table.data} points={points.data} mosaic={mosaic.data} run={run}
                layout={layout} encoding={encoding} classes={classes} selected={selected}
                onSelect={setSelected} onAnnotate={(id) => { setSelected(id); setAnnotating(id); }}
                onJobEnd={refresh} />
            )}
            {table.data && points.data && (
              <Scatter points={points.data} table={table.data} run={run} selected={selected}
                onSelect={setSelected} onSaved={(slicerName, id) => openSlices(slicerName, id)} />
            )}
          </section>
          <section className="col-detail">
            {row && slicer && (
              <>
                <AnnotationPanel run={run} slicer={slicer} row={row} author={author} onChanged={refresh} />
                <SliceDetail run={run} slicer={slicer} row={row} />
              </>
            )}
            {!row && table.data && <div className="empty">Select a slice in the table, the mosaic or the scatter.</div>}
          </section>
        </main>
      )}
      {tab === "attributes" && run && (
        <AttributesView run={run} version={version} onChanged={() => reloadRuns().then(refresh)}
          onOpenSlice={(s, id) => { openSlices(s, id); setTab("slices"); }} />
      )}
      {tab === "tda" && run && runInfo && (
        <TdaView run={run} slicer={slicer} row={row} classes={classes}
          onRunCreated={() => reloadRuns().then(() => setTab("repair"))} />
      )}
      {tab === "repair" && run && (
        <RepairView run={run} runs={runs.data ?? []} onRunCreated={reloadRuns} />
      )}
      {tab === "concepts" && run && <ConceptView run={run} author={author} />}
      {annotateRow && slicer && run && (
        <div className="modal" role="dialog" aria-label={`annotate ${annotateRow.id}`}
          onClick={(e) => e.target === e.currentTarget && setAnnotating(null)}>
          <div className="modal-body">
            <button className="close" aria-label="close" onClick={() => setAnnotating(null)}>×</button>
            <AnnotationPanel run={run} slicer={slicer} row={annotateRow} author={author}
              onChanged={() => { refresh(); }} autoFocus />
          </div>
        </div>
      )}
    </div>
  );
}
