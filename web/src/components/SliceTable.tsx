// Slice table (AttributionScanner Fig. 2 B, Fig. 8 A): sortable by every metric for
// rank-driven exploration; the colour chip shows the menu's encoding.
import { useMemo, useState } from "react";
import { fmt, pct, type SliceRow, type SliceTable as Table } from "../api";
import { encode, type Encoding } from "../colors";

type Key = "id" | "size" | "accuracy" | "confidence" | "spuriousness" | "bug_type" | "mark" | "description";
// short headers (full names on hover), so that the description column fits beside them
const COLUMNS: { key: Key; label: string; title?: string; numeric?: boolean }[] = [
  { key: "id", label: "slice" },
  { key: "size", label: "n", title: "size (samples)", numeric: true },
  { key: "accuracy", label: "acc.", title: "accuracy", numeric: true },
  { key: "confidence", label: "conf.", title: "mean confidence", numeric: true },
  { key: "spuriousness", label: "spur.", title: "spuriousness", numeric: true },
  { key: "bug_type", label: "bug", title: "bug type" },
  { key: "mark", label: "mark" },
  { key: "description", label: "description" },
];

function value(r: SliceRow, k: Key): string | number | null {
  if (k === "mark") return r.annotation?.label ?? null;
  return r[k] as string | number | null;
}

function wilson(r: SliceRow): string {
  const lo = r.metrics.acc_low, hi = r.metrics.acc_high;
  return typeof lo === "number" && typeof hi === "number" ? `95% interval ${pct(lo)} – ${pct(hi)}` : "";
}

interface Props {
  table: Table;
  selected: string | null;
  onSelect: (id: string) => void;
  encoding: Encoding;
  onOpenSet?: (slicer: string) => void;
}

export default function SliceTable({ table, selected, onSelect, encoding, onOpenSet }: Props) {
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 } | null>(null);
  const rows = useMemo(() => {
    if (!sort) return table.slices;
    return [...table.slices].sort((a, b) => {
      const va = value(a, sort.key);
      const vb = value(b, sort.key);
      if (va === null && vb === null) return 0;
      if (va === null) return 1; // missing values last in both directions
      if (vb === null) return -1;
      return (va < vb ? -1 : va > vb ? 1 : 0) * sort.dir;
    });
  }, [table.slices, sort]);
  const click = (k: Key) =>
    setSort((s) => (s && s.key === k ? { key: k, dir: s.dir === 1 ? -1 : 1 } : { key: k, dir: 1 }));

  return (
    <div className="slice-table">
      <h2>
        Slices <small>{table.slices.length} slices of {table.n_samples.toLocaleString()} {table.split} samples</small>
      </h2>
      {table.label_check && (
        <p className={table.label_check.groups ? "label-check suspect" : "label-check"} data-testid="label-check">
          Training labels: {table.label_check.groups
            ? <>{table.label_check.groups} group{table.label_check.groups === 1 ? "" : "s"} of suspect labels
              ({table.label_check.suspects.toLocaleString()} of {table.label_check.checked.toLocaleString()} {table.label_check.split} samples)
              that a held-out head, their neighbours and their look-alikes by shape all reject. </>
            : <>no suspect labels among {table.label_check.checked.toLocaleString()} {table.label_check.split} samples. </>}
          {table.label_check.groups > 0 && onOpenSet && (
            <button className="link" data-testid="open-label-check"
              onClick={() => onOpenSet(table.label_check!.slicer)}>Show them</button>
          )}
        </p>
      )}
      <p className="note" data-testid="spuriousness-status">
        spuriousness: {table.spuriousness_status}. ✎ = your mark (1 spurious, 0 core); ≈ = propagated to unmarked slices, a
        score in [0, 1] read against 0.5, not a probability.
      </p>
      <div className="scroll">
        <table data-testid="slice-table">
          <thead>
            <tr>
              <th />
              {COLUMNS.map((c) => (
                <th key={c.key} className={c.numeric ? "num" : ""}
                  aria-sort={sort?.key === c.key ? (sort.dir === 1 ? "ascending" : "descending") : "none"}>
                  <button onClick={() => click(c.key)} data-testid={`sort-${c.key}`} title={c.title ?? c.label}>
                    {c.label}
                    {sort?.key === c.key ? (sort.dir === 1 ? " ▲" : " ▼") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-slice={r.id} className={r.id === selected ? "selected" : ""}
                onClick={() => onSelect(r.id)}>
                <td><span className="chip" style={{ background: encode(encoding, r) }} /></td>
                <td>{r.id}</td>
                <td className="num">{r.size}</td>
                <td className="num" data-col="accuracy" title={wilson(r)}>{pct(r.accuracy)}</td>
                <td className="num">{fmt(r.confidence)}</td>
                <td className="num spur" data-col="spuriousness" data-source={r.spuriousness_source ?? "none"}
                  title={r.spuriousness_source === "human" ? "your mark" : r.spuriousness_source ? `propagated from the marks: ${table.spuriousness_status}` : "not propagated yet"}>
                  {r.spuriousness !== null && r.spuriousness_source !== "human" && (
                    <i className="spur-bar" style={{ width: `${Math.round(100 * r.spuriousness)}%` }} />
                  )}
                  <span>{r.spuriousness_source === "propagated" ? "≈" : ""}{fmt(r.spuriousness)}</span>
                  {r.spuriousness_source === "human" ? " ✎" : ""}
                </td>
                <td className="wrap" title={r.bug_evidence ?? ""}>{r.bug_type?.replace("_", " ") ?? ""}</td>
                <td data-col="mark">{r.annotation ? r.annotation.label.replace("_", " ") : ""}</td>
                <td className="desc" title={r.description}>
                  <div>{r.annotation?.description || r.description}</div>
                  {r.confusion && r.confusion !== r.description
                    ? <div className="desc-cell">{r.confusion}</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
