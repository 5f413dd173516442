// Attribution Mosaic (AttributionScanner Sec. III-E 1, Fig. 2 C/E, App. A-III, A-V): each
// slice's feature-inversion tile clipped to its convex hull at its place in the 2-D
// attribution space, the hull's boundary coloured by the menu's metric. The hovered tile
// is drawn again on top, enlarged but kept inside its own panel; a click selects a slice,
// a double-click annotates it; the wheel zooms and a drag pans. The confusion-matrix form
// splits every slice into label/prediction cells, each cell named in words ("label: 3;
// prediction: 8") and its hull computed by d3-polygon. The "grid" form (MosaicGrid) lays
// the tiles out as a gallery ordered by a metric.
import { polygonCentroid, polygonHull } from "d3-polygon";
import { scaleLinear } from "d3-scale";
import { useEffect, useMemo, useRef, useState, type PointerEvent as RPointerEvent } from "react";
import MosaicGrid, { type GridOrder } from "./MosaicGrid";
import { send, setPath, tileUrl, type Job, type MosaicStatus, type Points, type SliceRow, type SliceTable } from "../api";
import { encode, gradient, sliceColor, type Encoding } from "../colors";
import type { Layout } from "./SystemMenu";
import JobProgress from "./JobProgress";

type Pt = [number, number];
interface Piece {
  key: string;
  row: SliceRow;
  hull: Pt[];
}
interface Panel {
  key: string;
  title: string | null;
  pieces: Piece[];
}

interface Props {
  table: SliceTable;
  points: Points | null;
  mosaic: MosaicStatus | null;
  run: string;
  layout: Layout;
  encoding: Encoding;
  classes: string[];
  selected: string | null;
  onSelect: (id: string) => void;
  onAnnotate: (id: string) => void;
  onJobEnd: () => void;
}

function confusionPanels(table: SliceTable, points: Points, classes: string[]): Panel[] {
  const groups = new Map<string, Pt[]>();
  for (let i = 0; i < points.n; i++) {
    const s = points.slice[i];
    if (s < 0 || points.label[i] < 0) continue;
    const k = `${points.label[i]}|${points.pred[i]}|${s}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push([points.x[i], points.y[i]]);
  }
  const panels: Panel[] = [];
  classes.forEach((lab, a) =>
    classes.forEach((pred, b) => {
      const pieces: Piece[] = [];
      table.slices.forEach((row, s) => {
        const pts = groups.get(`${a}|${b}|${s}`);
        const hull = pts && pts.length >= 3 ? polygonHull(pts) : null;
        if (hull) pieces.push({ key: `${a}-${b}-${row.id}`, row, hull });
      });
      panels.push({ key: `${a}-${b}`, title: `label: ${lab}; prediction: ${pred}`, pieces });
    }),
  );
  return panels;
}

interface View { k: number; x: number; y: number }
const HOME: View = { k: 1, x: 0, y: 0 };

/** Wheel zoom (around the pointer) and drag pan, shared by every panel. */
function useZoom(size: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<View>(HOME);
  const drag = useRef<{ x: number; y: number; v: View; moved: boolean } | null>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const wheel = (e: WheelEvent) => {
      const svg = (e.target as Element).closest("svg");
      if (!svg) return;
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      const px = ((e.clientX - r.left) / r.width) * size, py = ((e.clientY - r.top) / r.height) * size;
      setView((v) => {
        const k = Math.min(12, Math.max(1, v.k * (e.deltaY < 0 ? 1.25 : 0.8)));
        return k === 1 ? HOME : { k, x: px - ((px - v.x) * k) / v.k, y: py - ((py - v.y) * k) / v.k };
      });
    };
    el.addEventListener("wheel", wheel, { passive: false });
    return () => el.removeEventListener("wheel", wheel);
  }, [size]);
  const handlers = {
    onPointerDown: (e: RPointerEvent) => { drag.current = { x: e.clientX, y: e.clientY, v: view, moved: false }; },
    onPointerMove: (e: RPointerEvent) => {
      const d = drag.current;
      if (!d || view.k === 1) return;
      const svg = (e.target as Element).closest("svg");
      const scale = svg ? size / svg.getBoundingClientRect().width : 1;
      const dx = (e.clientX - d.x) * scale, dy = (e.clientY - d.y) * scale;
      if (Math.abs(dx) + Math.abs(dy) > 3) d.moved = true;
      if (d.moved) setView({ ...d.v, x: d.v.x + dx, y: d.v.y + dy });
    },
    onPointerUp: () => { drag.current = null; },
    onPointerLeave: () => { drag.current = null; },
  };
  const zoom = (f: number) => setView((v) => {
    const k = Math.min(12, Math.max(1, v.k * f));
    const c = size / 2;
    return k === 1 ? HOME : { k, x: c - ((c - v.x) * k) / v.k, y: c - ((c - v.y) * k) / v.k };
  });
  return { ref, view, handlers, zoom, reset: () => setView(HOME) };
}

export default function Mosaic(p: Props) {
  const [hover, setHover] = useState<string | null>(null); // a piece key: one panel's piece
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [order, setOrder] = useState<GridOrder>("accuracy");
  const [tile, setTile] = useState(112);
  const tiles = useMemo(() => new Set(p.mosaic?.tiles ?? []), [p.mosaic]);

  const panels: Panel[] = useMemo(() => {
    if (p.layout === "confusion" && p.points) return confusionPanels(p.table, p.points, p.classes);
    const pieces = p.table.slices
      .filter((r) => r.polygon && r.polygon.length >= 3)
      .map((r) => ({ key: r.id, row: r, hull: r.polygon as Pt[] }));
    return [{ key: "all", title: null, pieces }];
  }, [p.layout, p.points, p.table, p.classes]);

  // one domain for every panel (the whole 2-D space when the points are known), so that
  // positions compare across cells and slice sets
  const [dx, dy] = useMemo(() => {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    const add = (x: number, y: number) => {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    };
    if (p.points) for (let i = 0; i < p.points.n; i++) add(p.points.x[i], p.points.y[i]);
    else for (const pan of panels) for (const pc of pan.pieces) for (const [x, y] of pc.hull) add(x, y);
    return [[x0, x1], [y0, y1]];
  }, [panels, p.points]);

  const cols = p.layout === "confusion" ? p.classes.length : 1;
  const size = p.layout === "confusion" ? Math.max(200, Math.floor(560 / cols)) : 560;
  const z = useZoom(size);
  useEffect(() => { z.reset(); setHover(null); }, [p.layout, p.table.slicer]); // eslint-disable-line react-hooks/exhaustive-deps

  const startMosaic = async () => {
    setError(null);
    try {
      const job = await send<Job>("POST", `${setPath(p.run, p.table.slicer)}/mosaic/jobs`, {});
      setJobId(job.id);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const noHull = p.table.slices.filter((r) => !r.polygon || r.polygon.length < 3).length;
  const grid = p.layout === "grid";
  const { k, x: tx, y: ty } = z.view;

  return (
    <div className="mosaic" data-testid="mosaic" data-layout={p.layout}>
      <h2>
        Attribution Mosaic <small>{grid ? "grid: one tile per slice" : p.layout === "confusion" ? "confusion-matrix form" : "combined: tiles at their place in the attribution space"}</small>
      </h2>
      <div className="toolbar">
        {p.encoding !== "slice" && (
          <span className="legend">
            border: {p.encoding} <span className="ramp" style={{ background: gradient(p.encoding) }} /> 0 → 1
          </span>
        )}
        {grid ? (
          <>
            <label>order by{" "}
              <select value={order} onChange={(e) => setOrder(e.target.value as GridOrder)} data-testid="grid-order">
                <option value="accuracy">accuracy (worst first)</option>
                <option value="confidence">confidence (lowest first)</option>
                <option value="spuriousness">spuriousness (highest first)</option>
                <option value="size">size (largest first)</option>
              </select>
            </label>
            <label>tile{" "}
              <input type="range" min={96} max={224} step={16} value={tile} onChange={(e) => setTile(Number(e.target.value))} data-testid="tile-size" />
            </label>
          </>
        ) : (
          <span className="zoom">
            <button onClick={() => z.zoom(1.5)} aria-label="zoom in">+</button>
            <button onClick={() => z.zoom(1 / 1.5)} aria-label="zoom out">−</button>
            <button onClick={z.reset} disabled={k === 1} data-testid="zoom-reset">reset</button>
            <span className="hint">{k === 1 ? "wheel to zoom" : `${k.toFixed(1)}× · drag to pan`}</span>
          </span>
        )}
      </div>
      {p.mosaic && !p.mosaic.computed && !p.table.has_layout && (
        <p className="note" data-testid="mosaic-no-layout">
          No mosaic for this slice set: it has no 2-D layout to draw its slices in (open a
          slice to see its images).
        </p>
      )}
      {p.mosaic && !p.mosaic.computed && p.table.has_layout && (
        <div className="notice" data-testid="mosaic-missing">
          Mosaic tiles not computed yet: run <code>{p.mosaic.command}</code>{" "}
          {!jobId && <button onClick={startMosaic}>compute now</button>}
          {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") p.onJobEnd(); else setError(j.error); }} />}
        </div>
      )}
      {error && <div className="error" role="alert">{error}</div>}
      {grid && (
        <MosaicGrid table={p.table} run={p.run} tiles={tiles} encoding={p.encoding} order={order} tile={tile}
          selected={p.selected} onSelect={p.onSelect} onAnnotate={p.onAnnotate} />
      )}
      {!grid && p.layout === "confusion" && !p.points && <div className="empty">the confusion-matrix form needs a 2-D layout</div>}
      {!grid && noHull > 0 && <p className="note">{noHull} slices have no hull (fewer than 3 distinct points) and are not drawn.</p>}
      {!grid && (
      <div className="panels" ref={z.ref} style={{ gridTemplateColumns: `repeat(${cols}, 1fr)` }}>
        {panels.map((pan) => {
          const pad = 8;
          const sx = scaleLinear().domain(dx).range([pad, size - pad]);
          const sy = scaleLinear().domain(dy).range([size - pad, pad]);
          const geo = (pc: Piece) => {
            const pts = pc.hull.map(([x, y]) => [sx(x), sy(y)] as Pt);
            const xs = pts.map(([x]) => x), ys = pts.map(([, y]) => y);
            const bx = Math.min(...xs), by = Math.min(...ys);
            return { pts, str: pts.map(([x, y]) => `${x},${y}`).join(" "), c: polygonCentroid(pts), bx, by, bw: Math.max(...xs) - bx, bh: Math.max(...ys) - by };
          };
          const piece = (pc: Piece, raised: boolean) => {
            const g = geo(pc);
            const [cx, cy] = g.c;
            let up = 1, ox = 0, oy = 0;
            if (raised) {
              // grown to ~140 screen px (App. A-III), but never past the visible panel
              const lo = [-tx / k, -ty / k], hi = [(size - tx) / k, (size - ty) / k];
              const room = Math.min(hi[0] - lo[0], hi[1] - lo[1]) - 10 / k;
              up = Math.max(1.35, 140 / k / Math.max(g.bw, g.bh, 1));
              up = Math.max(1, Math.min(up, 5, room / Math.max(g.bw, g.bh, 1)));
              // the scaled hull's box, widened by its label (~20 x 14 screen px at the centroid)
              const lx = 10 / k, ly = 7 / k;
              const x0 = Math.min(cx + (g.bx - cx) * up, cx - lx), x1 = Math.max(cx + (g.bx + g.bw - cx) * up, cx + lx);
              const y0 = Math.min(cy + (g.by - cy) * up, cy - ly), y1 = Math.max(cy + (g.by + g.bh - cy) * up, cy + ly);
              const m = 4 / k; // room for the boundary's stroke
              ox = x0 < lo[0] + m ? lo[0] + m - x0 : x1 > hi[0] - m ? hi[0] - m - x1 : 0;
              oy = y0 < lo[1] + m ? lo[1] + m - y0 : y1 > hi[1] - m ? hi[1] - m - y1 : 0;
            }
            const sel = pc.row.id === p.selected;
            const stroke = encode(p.encoding, pc.row);
            return (
              <g key={raised ? `raised-${pc.key}` : pc.key} className={`piece${sel ? " selected" : ""}${raised ? " raised" : ""}`}
                data-slice={pc.row.id} pointerEvents={raised ? "none" : undefined}
                transform={`translate(${cx + ox},${cy + oy}) scale(${up}) translate(${-cx},${-cy})`}
                onMouseEnter={raised ? undefined : () => setHover(pc.key)}
                onMouseLeave={raised ? undefined : () => setHover((h) => (h === pc.key ? null : h))}
                onClick={raised ? undefined : () => p.onSelect(pc.row.id)}
                onDoubleClick={raised ? undefined : () => p.onAnnotate(pc.row.id)}>
                {!raised && <title>{`${pc.row.id}: ${pc.row.size} samples, accuracy ${pc.row.accuracy?.toFixed(2) ?? "–"}${pc.row.annotation ? `, marked ${pc.row.annotation.label}` : ""} (double-click to annotate)`}</title>}
                {tiles.has(pc.row.id) ? (
                  <image href={tileUrl(p.run, p.table.slicer, pc.row.id)} x={g.bx} y={g.by} width={Math.max(g.bw, 1)}
                    height={Math.max(g.bh, 1)} preserveAspectRatio="none" clipPath={`url(#clip-${pan.key}-${pc.key})`} />
                ) : (
                  <polygon points={g.str} fill={p.encoding === "slice" ? sliceColor(pc.row.id) : stroke} fillOpacity={raised ? 0.85 : 0.35} />
                )}
                <polygon className="boundary" points={g.str} fill="none" stroke={stroke} strokeLinejoin="round" strokeWidth={(sel ? 5 : 3) / up / k} />
                {(g.bw * k > 28 || raised) && (
                  <text x={cx} y={cy} textAnchor="middle" dominantBaseline="middle" className="piece-label" fontSize={11 / up / k} strokeWidth={3 / up / k}>
                    {pc.row.id.replace(/^.*-/, "")}
                  </text>
                )}
              </g>
            );
          };
          // the selected piece is drawn last among the flat ones; the hovered one again on top
          const flat = [...pan.pieces].sort((a, b) => Number(a.row.id === p.selected) - Number(b.row.id === p.selected));
          const hovered = pan.pieces.find((pc) => pc.key === hover);
          return (
            <figure key={pan.key} className="panel">
              {pan.title && <figcaption>{pan.title}</figcaption>}
              <svg viewBox={`0 0 ${size} ${size}`} role="img" aria-label={pan.title ?? "attribution mosaic"} {...z.handlers}>
                <defs>
                  {pan.pieces.map((pc) => (
                    <clipPath key={pc.key} id={`clip-${pan.key}-${pc.key}`}>
                      <polygon points={geo(pc).str} />
                    </clipPath>
                  ))}
                </defs>
                <g transform={`translate(${tx},${ty}) scale(${k})`}>
                  {flat.map((pc) => piece(pc, false))}
                  {hovered && piece(hovered, true)}
                </g>
              </svg>
            </figure>
          );
        })}
      </div>
      )}
    </div>
  );
}
