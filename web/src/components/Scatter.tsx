// Scatter of every fitted sample in the slicer's 2-D space (WebGL, regl-scatterplot, so
// 200k points stay interactive), coloured by correctness or by slice. A lasso selection
// (lasso mode, or shift + drag) can be saved as a new slice. Hovering a point shows its
// image, label, prediction and confidence beside the cursor, inside the panel.
import createScatterplot from "regl-scatterplot";
import { useEffect, useMemo, useRef, useState } from "react";
import { get, imageUrl, send, setPath, type Points, type SampleRow, type SliceRow, type SliceTable } from "../api";
import { sliceColor } from "../colors";

type ColorBy = "correct" | "slice";
type Plot = ReturnType<typeof createScatterplot>;
const CORRECT_COLORS = ["#d62728", "#2ca02c", "#9a9a9a"]; // wrong, right, unlabeled

interface Props {
  points: Points;
  table: SliceTable;
  run: string;
  selected: string | null;
  onSelect: (id: string) => void;
  onSaved: (slicer: string, sliceId: string) => void;
}

export default function Scatter(p: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const plot = useRef<Plot | null>(null);
  const [colorBy, setColorBy] = useState<ColorBy>("correct");
  const [lasso, setLasso] = useState(false);
  const [picked, setPicked] = useState<number[]>([]);
  const [desc, setDesc] = useState("");
  const [msg, setMsg] = useState<string | null>(null);
  const fromSlice = useRef(false);
  const wrap = useRef<HTMLDivElement>(null);
  const mouse = useRef<[number, number]>([0, 0]);
  const [hover, setHover] = useState<{ i: number; at: [number, number]; s: SampleRow | null } | null>(null);
  const cache = useRef(new Map<string, SampleRow>());
  // the subscription below is made once; it reads the latest props through this ref
  const latest = useRef(p);
  latest.current = p;

  // positions normalised to what regl-scatterplot draws: y in [-1, 1] spans the height,
  // x in [-w/h, w/h] the width, so the points fill the canvas (the 2-D axes have no units)
  const [aspect, setAspect] = useState(1);
  const xy = useMemo(() => {
    const { x, y, n } = p.points;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
    }
    const hx = Math.max(x1 - x0, 1e-9) / 2, hy = Math.max(y1 - y0, 1e-9) / 2;
    const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
    const nx = new Float32Array(n), ny = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      nx[i] = ((x[i] - mx) / hx) * 0.95 * aspect;
      ny[i] = ((y[i] - my) / hy) * 0.92;
    }
    return { nx, ny };
  }, [p.points, aspect]);

  // regl-scatterplot rejects (an uncaught error, the picture not drawn) a draw that starts
  // before the last one finished: new colours and new points can ask twice in a row. Draws run one at a
  // time; while one runs, only the latest request waits, so the newest data is drawn last.
  const drawing = useRef(false);
  const pendingDraw = useRef<(() => Promise<unknown>) | null>(null);
  const drawLatest = (job: () => Promise<unknown>) => {
    pendingDraw.current = job;
    if (drawing.current) return;
    drawing.current = true;
    void (async () => {
      while (pendingDraw.current) {
        const next = pendingDraw.current;
        pendingDraw.current = null;
        try {
          await next();
        } catch (e) {
          // a plot destroyed mid-draw (view closed) has nothing left to draw on; else say so
          if (plot.current) console.error(e);
        }
      }
      drawing.current = false;
    })();
  };

  useEffect(() => {
    const el = canvas.current!;
    const { width, height } = el.getBoundingClientRect();
    const dark = window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
    setAspect(width / Math.max(height, 1));
    const sp = createScatterplot({ canvas: el, width, height, pointSize: 3, opacity: 0.8,
      lassoColor: dark ? [0.9, 0.9, 0.9, 1] : [0.1, 0.1, 0.1, 1],
      backgroundColor: dark ? [0.09, 0.1, 0.13, 1] : [1, 1, 1, 1] }); // follows the OS theme, as the CSS does
    plot.current = sp;
    sp.subscribe("select", ({ points }: { points: number[] }) => {
      if (fromSlice.current) return;
      const { points: pts, table, onSelect } = latest.current;
      const s = points.length === 1 ? pts.slice[points[0]] : -1;
      if (s >= 0) {
        onSelect(table.slices[s].id); // a click on one point selects its slice everywhere
        return;
      }
      setPicked(points);
      setMsg(null);
    });
    sp.subscribe("deselect", () => setPicked([]));
    sp.subscribe("pointOver", (i: number) => {
      const { run, table } = latest.current;
      const k = `${run}|${table.slicer}|${i}`;
      setHover({ i, at: mouse.current, s: cache.current.get(k) ?? null });
      if (!cache.current.has(k))
        get<SampleRow>(`${setPath(run, table.slicer)}/points/${i}`).then((s) => {
          cache.current.set(k, s);
          setHover((h) => (h && h.i === i ? { ...h, s } : h));
        }, () => undefined);
    });
    sp.subscribe("pointOut", () => setHover(null));
    const ro = new ResizeObserver(() => {
      const r = el.getBoundingClientRect();
      sp.set({ width: r.width, height: r.height });
      setAspect(r.width / Math.max(r.height, 1));
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      sp.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const sp = plot.current;
    if (!sp) return;
    const { n, correct, slice } = p.points;
    const z = new Float32Array(n);
    for (let i = 0; i < n; i++) z[i] = colorBy === "correct" ? (correct[i] < 0 ? 2 : correct[i]) : slice[i] + 1;
    const colors = colorBy === "correct" ? CORRECT_COLORS : ["#c8c8c8", ...p.table.slices.map((s: SliceRow) => sliceColor(s.id))];
    drawLatest(() => {
      if (plot.current !== sp) return Promise.resolve(); // destroyed meanwhile
      sp.set({ colorBy: "valueA", pointColor: colors, pointColorActive: "#111111" });
      return sp.draw({ x: xy.nx, y: xy.ny, valueA: z }, { zDataType: "categorical" });
    });
  }, [p.points, p.table.slices, xy, colorBy]);

  useEffect(() => {
    plot.current?.set({ mouseMode: lasso ? "lasso" : "panZoom" });
  }, [lasso]);

  // the slice selected in another view is highlighted here
  useEffect(() => {
    const sp = plot.current;
    if (!sp) return;
    const idx = p.table.slices.findIndex((s) => s.id === p.selected);
    fromSlice.current = true;
    if (idx < 0) sp.deselect({ preventEvent: true });
    else {
      const members: number[] = [];
      for (let i = 0; i < p.points.n; i++) if (p.points.slice[i] === idx) members.push(i);
      sp.select(members, { preventEvent: true });
    }
    fromSlice.current = false;
    setPicked([]);
  }, [p.selected, p.table.slices, p.points]);

  const save = async () => {
    try {
      const row = await send<SliceRow>("POST", `${setPath(p.run, p.table.slicer)}/custom`, {
        indices: picked, description: desc,
      });
      setMsg(`saved as ${row.id} in the slice set "custom"`);
      setPicked([]);
      setDesc("");
      p.onSaved("custom", row.id);
    } catch (e) {
      setMsg((e as Error).message);
    }
  };

  return (
    <div className="scatter" data-testid="scatter">
      <h2>
        Samples <small>{p.points.n.toLocaleString()} {p.table.split} samples in the 2-D space of {p.table.slicer}</small>
      </h2>
      <div className="toolbar">
        <label>
          colour by{" "}
          <select value={colorBy} onChange={(e) => setColorBy(e.target.value as ColorBy)} data-testid="scatter-color">
            <option value="correct">correctness</option>
            <option value="slice">slice</option>
          </select>
        </label>
        <button aria-pressed={lasso} onClick={() => setLasso((l) => !l)} data-testid="lasso-mode">
          {lasso ? "lasso: on" : "lasso: off"}
        </button>
        <span className="hint">click a point: its slice · drag to {lasso ? "draw a lasso" : "pan"} · shift+drag lasso · wheel zoom</span>
        {colorBy === "correct" && (
          <span className="legend">
            <i style={{ background: CORRECT_COLORS[1] }} /> correct <i style={{ background: CORRECT_COLORS[0] }} /> wrong
          </span>
        )}
      </div>
      <div className="scatter-wrap" ref={wrap} onMouseLeave={() => setHover(null)}
        onMouseMove={(e) => { const r = wrap.current!.getBoundingClientRect(); mouse.current = [e.clientX - r.left, e.clientY - r.top]; }}>
        <canvas ref={canvas} className="scatter-canvas" />
        {hover && (() => {
          // beside the cursor, flipped to stay inside the panel
          const W = wrap.current?.clientWidth ?? 400, H = wrap.current?.clientHeight ?? 340, cw = 150, ch = 196;
          const left = hover.at[0] + 14 + cw > W ? Math.max(0, hover.at[0] - 14 - cw) : hover.at[0] + 14;
          const top = Math.min(Math.max(0, hover.at[1] - ch / 2), Math.max(0, H - ch));
          const sl = p.points.slice[hover.i];
          return (
            <div className="hover-card" style={{ left, top, width: cw }} data-testid="scatter-hover">
              {hover.s ? (
                <>
                  <img src={imageUrl(p.run, hover.s.id, false, 128)} alt={hover.s.id} width={128} height={128} />
                  <div><b>{hover.s.label_name}</b> → {hover.s.pred_name} {hover.s.correct === false ? "✗" : hover.s.correct ? "✓" : ""}</div>
                  <div className="muted">conf {hover.s.confidence.toFixed(2)}{sl >= 0 ? ` · ${p.table.slices[sl]?.id ?? ""}` : ""}</div>
                </>
              ) : <div className="muted">loading…</div>}
            </div>
          );
        })()}
      </div>
      {picked.length > 0 && (
        <div className="lasso-save" data-testid="lasso-save">
          {picked.length} samples selected{" "}
          <input placeholder="description" value={desc} onChange={(e) => setDesc(e.target.value)} />
          <button onClick={save}>save as slice</button>
        </div>
      )}
      {msg && <p className="note" role="status">{msg}</p>}
    </div>
  );
}
