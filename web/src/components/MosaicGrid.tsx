// The mosaic's "grid" layout: every slice's feature-inversion tile as a gallery, ordered
// by a chosen metric (worst first), each tile drawn at a legible size (>= 96 px; the
// browser test measures it), its border coloured by the menu's encoding.
import { pct, tileUrl, type SliceRow, type SliceTable } from "../api";
import { encode, sliceColor, type Encoding } from "../colors";

export type GridOrder = "accuracy" | "confidence" | "spuriousness" | "size";
export const MIN_TILE = 96;

const KEY: Record<GridOrder, (r: SliceRow) => number | null> = {
  accuracy: (r) => r.accuracy, // worst first
  confidence: (r) => r.confidence,
  spuriousness: (r) => (r.spuriousness === null ? null : -r.spuriousness), // most spurious first
  size: (r) => -r.size,
};

export function orderRows(rows: SliceRow[], by: GridOrder): SliceRow[] {
  const key = KEY[by];
  return [...rows].sort((a, b) => {
    const va = key(a), vb = key(b);
    if (va === null) return vb === null ? 0 : 1;
    if (vb === null) return -1;
    return va - vb;
  });
}

interface Props {
  table: SliceTable;
  run: string;
  tiles: Set<string>;
  encoding: Encoding;
  order: GridOrder;
  tile: number;
  selected: string | null;
  onSelect: (id: string) => void;
  onAnnotate: (id: string) => void;
}

export default function MosaicGrid(p: Props) {
  const rows = orderRows(p.table.slices, p.order);
  const size = Math.max(MIN_TILE, p.tile);
  return (
    <div className="mosaic-grid" data-testid="mosaic-grid" style={{ gridTemplateColumns: `repeat(auto-fill, ${size + 12}px)` }}>
      {rows.map((r) => {
        const colour = encode(p.encoding, r);
        return (
          <figure key={r.id} className={r.id === p.selected ? "tile selected" : "tile"} data-slice={r.id}
            data-testid="mosaic-tile" style={{ borderColor: colour }} onClick={() => p.onSelect(r.id)}
            onDoubleClick={() => p.onAnnotate(r.id)}
            title={`${r.id}: ${r.size} samples, accuracy ${pct(r.accuracy)} (double-click to annotate)`}>
            {p.tiles.has(r.id) ? (
              <img src={tileUrl(p.run, p.table.slicer, r.id)} alt={`feature inversion of ${r.id}`} width={size} height={size} />
            ) : (
              <span className="no-tile" style={{ width: size, height: size, background: p.encoding === "slice" ? sliceColor(r.id) : colour }}>
                tile not computed
              </span>
            )}
            <figcaption>
              <b>{r.id.replace(/^.*-/, "#")}</b> {pct(r.accuracy)} <span className="muted">n={r.size}</span>
              {r.annotation && <span className={`mark mark-${r.annotation.label}`}>{r.annotation.label.replace("_", " ")}</span>}
            </figcaption>
          </figure>
        );
      })}
    </div>
  );
}
