// Images a person can read: a thumbnail with its heatmap laid over it at a chosen
// opacity, the heatmap's colour bar, and a lightbox (image and heatmap side by side,
// label, prediction, confidence, loss, id; arrow keys move, Escape closes).
import { useEffect } from "react";
import { heatmapUrl, imageUrl, type SampleRow } from "../api";

// the server's colour map (render.COLORMAP = "jet"), for the colour bar
const JET = "linear-gradient(to right, #00007f, #0000ff, #007fff, #00ffff, #7fff7f, #ffff00, #ff7f00, #ff0000, #7f0000)";

export function ColourBar() {
  return (
    <span className="colourbar" data-testid="heatmap-colourbar" title="attribution, scaled to each image's maximum">
      <span>0</span><i style={{ background: JET }} /><span>max attribution</span>
    </span>
  );
}

/** Image with its heatmap over it (``opacity`` 0 = image only; null = no heatmap). */
export function Thumb({ run, sample, size, opacity }: { run: string; sample: SampleRow; size: number; opacity: number | null }) {
  const px = Math.min(512, Math.max(32, Math.round(size * (window.devicePixelRatio || 1))));
  return (
    <span className="thumb" style={{ width: size, height: size }}>
      <img src={imageUrl(run, sample.id, false, px)} alt={`${sample.id} (image)`} width={size} height={size} />
      {opacity !== null && (
        <img className="overlay" src={heatmapUrl(run, sample.id, px)} alt={`${sample.id} (heatmap)`}
          width={size} height={size} style={{ opacity }} />
      )}
    </span>
  );
}

export function Caption({ s }: { s: SampleRow }) {
  return (
    <figcaption>
      <b>{s.label_name}</b> → {s.pred_name} {s.correct === false ? "✗" : s.correct ? "✓" : ""}
      <br />
      <span className="muted">conf {s.confidence.toFixed(2)}{s.loss !== null ? ` · loss ${s.loss.toFixed(2)}` : ""}</span>
    </figcaption>
  );
}

interface LightboxProps {
  run: string;
  items: SampleRow[];
  index: number;
  opacity: number;
  onIndex: (i: number) => void;
  onClose: () => void;
}

export function Lightbox({ run, items, index, opacity, onIndex, onClose }: LightboxProps) {
  const s = items[index];
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
      else if (e.key === "ArrowRight" && index + 1 < items.length) onIndex(index + 1);
      else if (e.key === "ArrowLeft" && index > 0) onIndex(index - 1);
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [index, items.length, onIndex, onClose]);
  if (!s) return null;
  const big = 320;
  return (
    <div className="modal" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal-body lightbox" role="dialog" aria-label={`sample ${s.id}`} data-testid="lightbox">
        <button className="close" aria-label="close" onClick={onClose}>×</button>
        <div className="lb-images">
          <figure>
            <img src={imageUrl(run, s.id, false, big)} alt={`${s.id} (image)`} width={big} height={big} />
            <figcaption>image</figcaption>
          </figure>
          <figure>
            <Thumb run={run} sample={s} size={big} opacity={Math.max(opacity, 0.35)} />
            <figcaption>attribution heatmap <ColourBar /></figcaption>
          </figure>
        </div>
        <dl className="facts" data-testid="lightbox-facts">
          <dt>sample</dt><dd data-testid="lightbox-id">{s.id}</dd>
          <dt>split</dt><dd>{s.split}</dd>
          <dt>label</dt><dd>{s.label_name}</dd>
          <dt>prediction</dt><dd className={s.correct === false ? "bad" : "good"}>{s.pred_name} {s.correct === false ? "(wrong)" : s.correct ? "(right)" : ""}</dd>
          <dt>confidence</dt><dd>{s.confidence.toFixed(3)}</dd>
          <dt>loss</dt><dd>{s.loss === null ? "– (unlabelled)" : s.loss.toFixed(3)}</dd>
        </dl>
        <div className="lb-nav">
          <button onClick={() => onIndex(index - 1)} disabled={index === 0} aria-label="previous sample">‹ previous</button>
          <span>{index + 1} / {items.length} · ← → to move, Esc to close</span>
          <button onClick={() => onIndex(index + 1)} disabled={index + 1 >= items.length} aria-label="next sample">next ›</button>
        </div>
      </div>
    </div>
  );
}
