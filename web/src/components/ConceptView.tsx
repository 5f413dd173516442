// AACA concept annotation (paper Fig. 3): a seed image and its saliency side by side
// (ambiguous pixels tinted magenta), two answer boxes "confounded concept" and "valid
// concept". Keyboard: Enter saves and moves on, Alt+ArrowRight / Alt+ArrowLeft move
// without saving, Alt+Z undoes this annotator's last answer (kept as "undone" in the
// store, redoable until the image is answered again). An answer shows as saved only
// after the server committed it. Below: the concept alignment of stored AACA repairs.
import { useEffect, useMemo, useRef, useState } from "react";
import { get, imageUrl, send } from "../api";
import { useAsync } from "../hooks";
import ConceptAlignment from "./ConceptAlignment";
import SaliencyImage, { usePrefetchSaliency } from "./SaliencyImage";

interface Seed { image_id: string; label: string; predicted: string; correct: boolean }
interface Answer {
  id: number; image_id: string; label: string; author: string;
  confounded: string[]; valid: string[]; seconds: number | null; status: string; updated_at: string;
}

interface Props { run: string; author: string }

export default function ConceptView({ run, author }: Props) {
  const enc = encodeURIComponent(run);
  const seeds = useAsync(() => get<Seed[]>(`/runs/${enc}/concepts/seeds?per_class=20`), [run]);
  const [version, setVersion] = useState(0);
  const answers = useAsync(() => get<Answer[]>(`/runs/${enc}/concepts/answers`), [run, version]);
  const [index, setIndex] = useState(0);
  const [confounded, setConfounded] = useState("");
  const [valid, setValid] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [undone, setUndone] = useState<Answer | null>(null);
  const started = useRef(Date.now());
  const first = useRef<HTMLInputElement>(null);
  const list = seeds.data ?? [];
  const seed = list[index] ?? null;
  const mine = useMemo(() => {
    const m = new Map<string, Answer>();
    for (const a of answers.data ?? []) if (!author || a.author === author) m.set(a.image_id, a);
    return m;
  }, [answers.data, author]);

  useEffect(() => {
    const a = seed ? mine.get(seed.image_id) : undefined;
    setConfounded(a ? a.confounded.join("; ") : "");
    setValid(a ? a.valid.join("; ") : "");
    started.current = Date.now();
    first.current?.focus();
  }, [seed?.image_id, mine]);

  // the next seed first (Enter and Alt+→ go there), then the previous one
  usePrefetchSaliency(run, [list[index + 1]?.image_id, list[index - 1]?.image_id]);

  const go = (d: number) => setIndex((i) => Math.min(Math.max(i + d, 0), Math.max(list.length - 1, 0)));

  async function save() {
    if (!seed || saving) return;
    setSaving(true);
    setError(null);
    try {
      setUndone(null);
      await send<Answer>("POST", `/runs/${enc}/concepts/answers`, {
        image_id: seed.image_id, confounded, valid, author,
        seconds: (Date.now() - started.current) / 1000,
      });
      setVersion((v) => v + 1);
      go(1);
    } catch (e) {
      setError(String((e as Error).message ?? e));
    } finally {
      setSaving(false);
    }
  }

  async function undoRedo(redo: boolean) {
    if (saving) return;
    setSaving(true);
    setError(null);
    try {
      const a = redo && undone
        ? await send<Answer>("POST", `/runs/${enc}/concepts/answers/${undone.id}/redo`, { author })
        : await send<Answer>("POST", `/runs/${enc}/concepts/answers/undo-last`, { author });
      setUndone(redo ? null : a);
      setVersion((v) => v + 1);
      const at = list.findIndex((s) => s.image_id === a.image_id);
      if (at >= 0) setIndex(at);
    } catch (e) {
      setError(String((e as Error).message ?? e));
    } finally {
      setSaving(false);
    }
  }

  function onKey(e: React.KeyboardEvent) {
    if (e.altKey && (e.key === "z" || e.key === "Z" || e.code === "KeyZ")) { e.preventDefault(); void undoRedo(false); }
    else if (e.key === "Enter") { e.preventDefault(); void save(); }
    else if (e.altKey && e.key === "ArrowRight") { e.preventDefault(); go(1); }
    else if (e.altKey && e.key === "ArrowLeft") { e.preventDefault(); go(-1); }
  }

  if (seeds.error) return <div className="error" role="alert">{seeds.error}</div>;
  if (!seeds.data) return <div className="empty">Loading seed images…</div>;
  if (!seed) return <div className="empty">No seed images in this run's validation split.</div>;
  const saved = mine.get(seed.image_id);
  return (
    <main className="concepts" data-testid="concept-view" onKeyDown={onKey}>
      <p data-testid="concept-status">
        Image {index + 1} of {list.length} · class <b>{seed.label}</b> · predicted{" "}
        <b>{seed.predicted}</b> {seed.correct ? "(correct)" : "(wrong)"} ·{" "}
        {mine.size} answered{saved ? " · saved" : ""}
      </p>
      <div className="concept-pair">
        <figure>
          <img src={imageUrl(run, seed.image_id, false, 224)} alt={`image ${seed.image_id}`} width={224} height={224} />
          <figcaption>image</figcaption>
        </figure>
        <figure>
          <SaliencyImage run={run} id={seed.image_id} />
          <figcaption>saliency (magenta: ambiguous, variance &gt; 0.1)</figcaption>
        </figure>
      </div>
      <label>
        Confounded concept (what misleads the model in the highlighted region)
        <input ref={first} aria-label="confounded concept" value={confounded}
          onChange={(e) => setConfounded(e.target.value)} />
      </label>
      <label>
        Valid concept (what shows the class)
        <input aria-label="valid concept" value={valid} onChange={(e) => setValid(e.target.value)} />
      </label>
      <div className="concept-buttons">
        <button onClick={() => go(-1)} disabled={index === 0}>Previous (Alt+←)</button>
        <button onClick={() => void save()} disabled={saving}>Save and next (Enter)</button>
        <button onClick={() => go(1)} disabled={index >= list.length - 1}>Next (Alt+→)</button>
        <button onClick={() => void undoRedo(false)} disabled={saving || mine.size === 0}
          data-testid="undo-answer">Undo last answer (Alt+Z)</button>
        {undone && (
          <button onClick={() => void undoRedo(true)} disabled={saving} data-testid="redo-answer">
            Redo answer on {undone.image_id}
          </button>
        )}
      </div>
      {undone && <p data-testid="undo-status">answer #{undone.id} on {undone.image_id} undone (kept in its history)</p>}
      {error && <div className="error" role="alert">{error}</div>}
      <ConceptAlignment run={run} />
    </main>
  );
}
