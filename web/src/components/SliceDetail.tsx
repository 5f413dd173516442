// Slice Detail View (AttributionScanner Fig. 2 D): the slice's images with label and
// prediction, a toggle to their attribution heatmaps, its confusion-matrix cells named
// in words, and paging for large slices.
import { useEffect, useState } from "react";
import { get, imageUrl, pct, setPath, type SampleRow, type SamplePage, type SliceDetail as Detail, type SliceRow } from "../api";
import { useAsync } from "../hooks";

const PAGE = 24;
type Order = "stored" | "loss" | "confidence" | "-confidence";

interface Props {
  run: string;
  slicer: string;
  row: SliceRow;
}

export default function SliceDetail({ run, slicer, row }: Props) {
  const [heat, setHeat] = useState(false);
  const [page, setPage] = useState(0);
  const [order, setOrder] = useState<Order>("loss");
  const [cell, setCell] = useState<[number, number] | null>(null);
  useEffect(() => { setPage(0); setCell(null); }, [row.id]);
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
      <div className="grid" data-testid="sample-grid" data-heatmap={heat ? "on" : "off"}>
        {members.data?.items.map((s: SampleRow) => (
          <figure key={s.id} className={s.correct === false ? "wrong" : "right"} title={`${s.id}\nconfidence ${s.confidence.toFixed(3)}${s.loss !== null ? `, loss ${s.loss.toFixed(3)}` : ""}`}>
            <img src={imageUrl(run, s.id, heat)} alt={`${s.id} (${heat ? "heatmap" : "image"})`} width={96} height={96} />
            <figcaption>
              label {s.label_name}
              <br />
              pred {s.pred_name} {s.correct === false ? "✗" : s.correct ? "✓" : ""}
            </figcaption>
          </figure>
        ))}
      </div>
    </div>
  );
}
