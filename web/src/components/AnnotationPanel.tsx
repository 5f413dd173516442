// Annotation of a slice (AttributionScanner Sec. III-E 2): core / spurious / wrong labels
// with a description. The mark is shown as saved only after the server has committed it;
// marks can be edited, undone and redone, and their history says who did what and when.
import { useEffect, useId, useRef, useState } from "react";
import { get, send, type Annotation, type HistoryEvent, type SliceRow } from "../api";

const LABELS = [
  { value: "core", label: "core" },
  { value: "spurious", label: "spurious" },
  { value: "wrong_labels", label: "wrong labels" },
];

interface Props {
  run: string;
  slicer: string;
  row: SliceRow;
  author: string;
  onChanged: () => void;
  autoFocus?: boolean;
}

const when = (iso: string) => new Date(iso).toLocaleString();

export default function AnnotationPanel({ run, slicer, row, author, onChanged, autoFocus }: Props) {
  const mark = row.annotation;
  const [label, setLabel] = useState<string>(mark?.label ?? "spurious");
  const [desc, setDesc] = useState<string>(mark?.description ?? "");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [history, setHistory] = useState<HistoryEvent[] | null>(null);
  const [undone, setUndone] = useState<Annotation[]>([]);
  const input = useRef<HTMLInputElement>(null);
  const group = useId(); // the panel can be open twice (side and dialog): separate radio groups

  useEffect(() => {
    setLabel(mark?.label ?? "spurious");
    setDesc(mark?.description ?? "");
    setHistory(null);
    setStatus(null);
  }, [row.id, mark?.id, mark?.updated_at]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (autoFocus) input.current?.focus();
  }, [autoFocus]);
  useEffect(() => {
    get<Annotation[]>(`/runs/${encodeURIComponent(run)}/annotations?slicer=${encodeURIComponent(slicer)}&include_undone=true`)
      .then((all) => setUndone(all.filter((a) => a.target_id === row.id && a.status === "undone")))
      .catch(() => setUndone([]));
  }, [run, slicer, row.id, mark?.id, mark?.updated_at]);

  const act = async (fn: () => Promise<Annotation>, done: (a: Annotation) => string) => {
    setBusy(true);
    setStatus("saving…");
    try {
      const a = await fn(); // the response comes after the commit: only now is it saved
      setStatus(done(a));
      onChanged();
    } catch (e) {
      setStatus(`not saved: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const save = () =>
    act(
      () => mark
        ? send<Annotation>("PATCH", `/annotations/${mark.id}`, { label, description: desc, author })
        : send<Annotation>("POST", `/runs/${encodeURIComponent(run)}/annotations`, { slicer, slice_id: row.id, label, description: desc, author }),
      (a) => `saved: ${row.id} is ${a.label.replace("_", " ")} (mark #${a.id}, ${when(a.updated_at)})`,
    );
  const undo = () => mark && act(() => send<Annotation>("POST", `/annotations/${mark.id}/undo`, { author }), (a) => `mark #${a.id} undone`);
  const redo = (id: number) => act(() => send<Annotation>("POST", `/annotations/${id}/redo`, { author }), (a) => `mark #${a.id} restored`);
  const showHistory = async () => mark && setHistory(await get<HistoryEvent[]>(`/annotations/${mark.id}/history`));

  return (
    <div className="annotate" data-testid="annotation-panel">
      <h3>Annotate {row.id}</h3>
      {mark ? (
        <p className="current" data-testid="current-mark">
          Marked <b>{mark.label.replace("_", " ")}</b>{mark.description && <> — “{mark.description}”</>} by {mark.author}, {when(mark.updated_at)}
        </p>
      ) : (
        <p className="current">Not marked yet.</p>
      )}
      <div className="labels" role="radiogroup" aria-label="slice label">
        {LABELS.map((l) => (
          <label key={l.value} className={label === l.value ? "active" : ""}>
            <input type="radio" name={`${group}-label`} value={l.value} checked={label === l.value}
              onChange={() => setLabel(l.value)} data-testid={`label-${l.value}`} />
            {l.label}
          </label>
        ))}
      </div>
      <input ref={input} className="description" placeholder="description, e.g. brick background" value={desc}
        onChange={(e) => setDesc(e.target.value)} onKeyDown={(e) => e.key === "Enter" && !busy && save()} data-testid="mark-description" />
      <div className="actions">
        <button onClick={save} disabled={busy} data-testid="save-mark">{mark ? "save change" : "save mark"}</button>
        {mark && <button onClick={undo} disabled={busy} data-testid="undo-mark">undo mark</button>}
        {mark && <button onClick={showHistory} disabled={busy}>history</button>}
        {!mark && undone.slice(-1).map((a) => (
          <button key={a.id} onClick={() => redo(a.id)} disabled={busy}>redo “{a.label}” mark</button>
        ))}
      </div>
      {status && <p className="status" role="status" data-testid="mark-status">{status}</p>}
      {history && (
        <ol className="history">
          {history.map((e) => (
            <li key={e.id}>{when(e.at)} · {e.author} · {e.action} {e.action === "edit" ? JSON.stringify((e.payload as { after?: unknown }).after) : ""}</li>
          ))}
        </ol>
      )}
    </div>
  );
}
