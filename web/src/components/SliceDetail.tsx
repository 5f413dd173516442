// Slice Detail View (AttributionScanner Fig. 2 D): the slice's images with label and
// prediction at a size that can be read (adjustable), their attribution heatmaps laid
// over them at a chosen opacity with a colour bar, a lightbox per image, its
// confusion-matrix cells named in words, and paging for large slices.
import { useEffect, useState } from "react";
import { get, pct, setPath, type SampleRow, type SamplePage, type SliceDetail as Detail, type SliceRow } from "../api";
import { useAsync } from "../hooks";
import { Caption, ColourBar, Lightbox, Thumb } from "./Images";

const PAGE = 24;
type Order = "stored" | "loss" | "confidence" | "-confidence";

interface Props {
  run: string;
  slicer: string;
  row: SliceRow;
}

export default function SliceDetail({ run, slicer, row }: Props) {
  const [heat, setHeat] = useState(false);
  const [opacity, setOpacity] = useState(0.6);
  const [size, setSize] = useState(() => Number(localStorage.getItem("slicelens.thumb")) || 144);
  const [open, setOpen] = useState<number | null>(null);
  useEffect(() => localStorage.setItem("slicelens.thumb", String(size)), [size]);
  const [page, setPage] = useState(0);
  const [order, setOrder] = useState<Order>("loss");
  const [cell, setCell] = useState<[number, number] | null>(null);
  useEffect(() => { setPage(0); setCell(null); setOpen(null); }, [row.id]);
  const base = `${setPath(run, slicer)}/slices/${encodeURIComponent(row.id)}`;
  const detail = useAsync(() => get<Detail>(base), [base]);
  const q = `page=${page}&page_size=${PAGE}&order=${order}${cell ? `&label=${cell[0]}&pred=${cell[1]}` : ""}`;
  const members = useAsync(() => get<SamplePage>(`${base}/members?${q}`), [base, q]);
  const pages = members.data ? Math.max(1, Math.ceil(members.data.total / PAGE)) : 1;

  return (
    <div className="detail" data-testid="slice-detail">
      <h2>
        {row.id} <small>{row.size} samples · accuracy {pct(row.accuracy)}{row.bug_type ? ` · ${row.bug_type.replace("_", " ")}` : ""}</small>
      </h2>
      {row.description && <p className="desc">{row.description}</p>}
      {detail.data && (
        <div className="cells" aria-label="confusion cells">
          <button className={cell === null ? "cell active" : "cell"} onClick={() => { setCell(null); setPage(0); }}>all</button>
          {detail.data.cells.map((c) => (
            <button key={c.name} className={cell && cell[0] === c.label && cell[1] === c.pred ? "cell active" : "cell"}
              onClick={() => { setCell([c.label, c.pred]); setPage(0); }}>
              {c.name} <b>({c.n})</b>
            </button>
          ))}
        </div>
      )}
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={heat} onChange={(e) => setHeat(e.target.checked)} data-testid="heatmap-toggle" />{" "}
          attribution heatmaps
        </label>
        {heat && (
          <label title="heatmap opacity over the image">
            opacity{" "}
            <input type="range" min={0} max={1} step={0.05} value={opacity} data-testid="heatmap-opacity"
              onChange={(e) => setOpacity(Number(e.target.value))} />
          </label>
        )}
        {heat && <ColourBar />}
        <label title="thumbnail size">
          size{" "}
          <input type="range" min={96} max={256} step={16} value={size} data-testid="thumb-size"
            onChange={(e) => setSize(Number(e.target.value))} />
        </label>
        <label>
          order{" "}
          <select value={order} onChange={(e) => { setOrder(e.target.value as Order); setPage(0); }}>
            <option value="loss">highest loss first</option>
            <option value="-confidence">most confident first</option>
            <option value="confidence">least confident first</option>
            <option value="stored">as stored</option>
          </select>
        </label>
        <span className="pager">
          <button disabled={page === 0} onClick={() => setPage(page - 1)} aria-label="previous page">‹</button>
          page {page + 1} / {pages}
          <button disabled={page + 1 >= pages} onClick={() => setPage(page + 1)} aria-label="next page" data-testid="next-page">›</button>
        </span>
      </div>
      {members.error && <div className="error" role="alert">{members.error}</div>}
      <div className="grid" data-testid="sample-grid" data-heatmap={heat ? "on" : "off"}
        style={{ gridTemplateColumns: `repeat(auto-fill, minmax(${size + 8}px, 1fr))` }}>
        {members.data?.items.map((s: SampleRow, i) => (
          <figure key={s.id} className={s.correct === false ? "wrong" : "right"} title={`${s.id} (click to enlarge)`}
            onClick={() => setOpen(i)}>
            <Thumb run={run} sample={s} size={size} opacity={heat ? opacity : null} />
            <Caption s={s} />
          </figure>
        ))}
      </div>
      {open !== null && members.data && (
        <Lightbox run={run} items={members.data.items} index={open} opacity={heat ? opacity : 0.6}
          onIndex={setOpen} onClose={() => setOpen(null)} />
      )}
    </div>
  );
}
