// Attribution Mosaic (AttributionScanner Sec. III-E 1, Fig. 2 C/E, App. A-III, A-V): each
// slice's feature-inversion tile clipped to its convex hull at its place in the 2-D
// attribution space, the hull's boundary coloured by the menu's metric. The hovered tile
// is raised to the top and enlarged; a click selects a slice, a double-click annotates it.
// The confusion-matrix form splits every slice into label/prediction cells, each cell
// named in words ("label: 3; prediction: 8") and its hull computed by d3-polygon.
import { polygonCentroid, polygonHull } from "d3-polygon";
import { scaleLinear } from "d3-scale";
import { useMemo, useState } from "react";
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

export default function Mosaic(p: Props) {
  const [hover, setHover] = useState<string | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
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
  const cols = p.layout === "confusion" ? p.classes.length : 1;
  const size = p.layout === "confusion" ? Math.max(160, Math.floor(560 / cols)) : 560;

  return (
    <div className="mosaic" data-testid="mosaic">
      <h2>
        Attribution Mosaic <small>{p.layout === "confusion" ? "confusion-matrix form" : "combined"}</small>
      </h2>
      {p.encoding !== "slice" && (
        <div className="legend">
          boundary: {p.encoding} <span className="ramp" style={{ background: gradient(p.encoding) }} /> 0 → 1
        </div>
      )}
      {p.mosaic && !p.mosaic.computed && (
        <div className="notice" data-testid="mosaic-missing">
          Mosaic tiles not computed yet: run <code>{p.mosaic.command}</code>{" "}
          {!jobId && <button onClick={startMosaic}>compute now</button>}
          {jobId && <JobProgress jobId={jobId} onEnd={(j) => { setJobId(null); if (j.status === "done") p.onJobEnd(); else setError(j.error); }} />}
        </div>
      )}
      {error && <div className="error" role="alert">{error}</div>}
      {p.layout === "confusion" && !p.points && <div className="empty">the confusion-matrix form needs a 2-D layout</div>}
      {noHull > 0 && <p className="note">{noHull} slices have no hull (fewer than 3 distinct points) and are not drawn.</p>}
      <div className="panels" style={{ gridTemplateColumns: `repeat(${cols}, 1fr)` }}>
        {panels.map((pan) => {
          const pad = 8;
          const sx = scaleLinear().domain(dx).range([pad, size - pad]);
          const sy = scaleLinear().domain(dy).range([size - pad, pad]);
          // the hovered slice is drawn last: on top of its neighbours (App. A-III)
          const order = [...pan.pieces].sort((a, b) => Number(a.row.id === hover) - Number(b.row.id === hover) || Number(a.row.id === p.selected) - Number(b.row.id === p.selected));
          return (
            <figure key={pan.key} className="panel">
              {pan.title && <figcaption>{pan.title}</figcaption>}
              <svg viewBox={`0 0 ${size} ${size}`} role="img" aria-label={pan.title ?? "attribution mosaic"}>
                <defs>
                  {pan.pieces.map((pc) => (
                    <clipPath key={pc.key} id={`clip-${pan.key}-${pc.key}`}>
                      <polygon points={pc.hull.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" ")} />
                    </clipPath>
                  ))}
                </defs>
                {order.map((pc) => {
                  const xs = pc.hull.map(([x]) => sx(x));
                  const ys = pc.hull.map(([, y]) => sy(y));
                  const [cx, cy] = polygonCentroid(pc.hull.map(([x, y]) => [sx(x), sy(y)] as Pt));
                  const bx = Math.min(...xs), by = Math.min(...ys);
                  const bw = Math.max(...xs) - bx, bh = Math.max(...ys) - by;
                  // the hovered tile is raised and grown to at least ~140 px (App. A-III)
                  const up = pc.row.id === hover ? Math.min(5, Math.max(1.35, 140 / Math.max(bw, bh, 1))) : 1;
                  const sel = pc.row.id === p.selected;
                  const stroke = encode(p.encoding, pc.row);
                  return (
                    <g key={pc.key} className={`piece${sel ? " selected" : ""}`} data-slice={pc.row.id}
                      transform={`translate(${cx},${cy}) scale(${up}) translate(${-cx},${-cy})`}
                      onMouseEnter={() => setHover(pc.row.id)} onMouseLeave={() => setHover(null)}
                      onClick={() => p.onSelect(pc.row.id)} onDoubleClick={() => p.onAnnotate(pc.row.id)}>
                      <title>{`${pc.row.id}: ${pc.row.size} samples, accuracy ${pc.row.accuracy?.toFixed(2) ?? "–"}${pc.row.annotation ? `, marked ${pc.row.annotation.label}` : ""} (double-click to annotate)`}</title>
                      {tiles.has(pc.row.id) ? (
                        <image href={tileUrl(p.run, p.table.slicer, pc.row.id)} x={bx} y={by} width={Math.max(bw, 1)}
                          height={Math.max(bh, 1)} preserveAspectRatio="none" clipPath={`url(#clip-${pan.key}-${pc.key})`} />
                      ) : (
                        <polygon points={pc.hull.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" ")}
                          fill={p.encoding === "slice" ? sliceColor(pc.row.id) : stroke} fillOpacity={0.35} />
                      )}
                      <polygon className="boundary" points={pc.hull.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" ")}
                        fill="none" stroke={stroke} strokeWidth={sel ? 5 : 3} />
                      {(bw > 28 || pc.row.id === hover) && (
                        <text x={cx} y={cy} textAnchor="middle" dominantBaseline="middle" className="piece-label" fontSize={11 / up} strokeWidth={3 / up}>
                          {pc.row.id.replace(/^.*-/, "")}
                        </text>
                      )}
                    </g>
                  );
                })}
              </svg>
            </figure>
          );
        })}
      </div>
    </div>
  );
}
