// Scatter of every fitted sample in the slicer's 2-D space (WebGL, regl-scatterplot, so
// 200k points stay interactive), coloured by correctness or by slice. A lasso selection
// (lasso mode, or shift + drag) can be saved as a new slice.
import createScatterplot from "regl-scatterplot";
import { useEffect, useMemo, useRef, useState } from "react";
import { send, setPath, type Points, type SliceRow, type SliceTable } from "../api";
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

  useEffect(() => {
    const el = canvas.current!;
    const { width, height } = el.getBoundingClientRect();
    setAspect(width / Math.max(height, 1));
    const sp = createScatterplot({ canvas: el, width, height, pointSize: 3, opacity: 0.8,
      lassoColor: [0.1, 0.1, 0.1, 1], backgroundColor: [1, 1, 1, 1] });
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
    sp.set({ colorBy: "valueA", pointColor: colors, pointColorActive: "#111111" });
    sp.draw({ x: xy.nx, y: xy.ny, valueA: z }, { zDataType: "categorical" });
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
      <canvas ref={canvas} className="scatter-canvas" />
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
