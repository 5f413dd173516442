// Typed access to the slicelens HTTP API (schemas: src/slicelens/server/schemas.py).

export interface Meta {
  workspace: string;
  author: string;
  slice_labels: string[];
  bug_types: string[];
  slicers: string[];
  repair_strategies: string[];
}

export interface RunSummary {
  id: string;
  n_samples: number;
  classes: string[];
  accuracy: Record<string, number | null>;
  created_at: string;
  model: string;
  slice_sets: string[];
  base_run: string | null;
  plan: string | null;
  control_run: string | null;
  is_control: boolean;
}

export interface Annotation {
  id: number;
  run_id: string;
  target_id: string;
  scope: string;
  label: string;
  description: string;
  author: string;
  created_at: string;
  updated_at: string;
  status: string;
}

export interface HistoryEvent {
  id: number;
  action: string;
  payload: Record<string, unknown>;
  author: string;
  at: string;
}

export interface SliceRow {
  id: string;
  size: number;
  accuracy: number | null;
  confidence: number | null;
  spuriousness: number | null;
  spuriousness_source: string | null;
  bug_type: string | null;
  description: string;
  confusion?: string;
  bug_evidence?: string | null;
  annotation: Annotation | null;
  polygon: number[][] | null;
  metrics: Record<string, unknown>;
  conditions?: Record<string, string> | null;
}

export interface SliceTable {
  run_id: string;
  slicer: string;
  split: string;
  params: Record<string, unknown>;
  n_samples: number;
  has_layout: boolean;
  spuriousness_status: string;
  spuriousness_pending: boolean;
  slices: SliceRow[];
}

export interface Cell {
  label: number;
  pred: number;
  name: string;
  n: number;
}

export interface SliceDetail {
  row: SliceRow;
  evidence: Record<string, unknown>;
  cells: Cell[];
}

export interface SampleRow {
  id: string;
  split: string;
  label: number;
  pred: number;
  label_name: string;
  pred_name: string;
  confidence: number;
  loss: number | null;
  correct: boolean | null;
}

export interface SamplePage {
  total: number;
  page: number;
  page_size: number;
  items: SampleRow[];
}

export interface Job {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  status: "queued" | "running" | "done" | "failed";
  progress: number | null;
  message: string;
  result: unknown;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface MosaicStatus {
  computed: boolean;
  tiles: string[];
  missing: string[];
  command: string;
}

/** The scatter payload: one typed array per column (see GET .../points). */
export interface Points {
  n: number;
  x: Float32Array;
  y: Float32Array;
  slice: Int32Array;
  label: Int16Array;
  pred: Int16Array;
  correct: Int8Array;
}

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

async function check(r: Response): Promise<Response> {
  if (!r.ok) {
    let msg = r.statusText;
    try {
      const body = await r.json();
      msg = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, msg);
  }
  return r;
}

export async function get<T>(path: string): Promise<T> {
  return (await check(await fetch(`/api${path}`))).json();
}

export async function send<T>(method: string, path: string, body: unknown): Promise<T> {
  const r = await fetch(`/api${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await check(r)).json();
}

export interface Upload { id: string; kind: string; name: string; rows: number; columns: string[]; bytes: number }

/** Upload a label-oracle CSV; the server keeps it in the workspace and answers its id
 * (job parameters name uploads by id, never by a path on the server). */
export async function uploadOracle(file: File): Promise<Upload> {
  const r = await fetch(`/api/uploads/oracles?name=${encodeURIComponent(file.name)}`, {
    method: "POST", headers: { "Content-Type": "text/csv" }, body: file,
  });
  return (await check(r)).json();
}

const enc = encodeURIComponent;

export const runPath = (run: string) => `/runs/${enc(run)}`;
export const setPath = (run: string, slicer: string) =>
  `${runPath(run)}/slicesets/${enc(slicer)}`;

export function imageUrl(run: string, sampleId: string, heatmap: boolean, size = 96): string {
  const kind = heatmap ? "heatmap" : "image";
  return `/api${runPath(run)}/samples/${kind}?id=${enc(sampleId)}&size=${size}`;
}

/** The colour-mapped attribution alone (alpha 1), to lay over the image with CSS opacity. */
export function heatmapUrl(run: string, sampleId: string, size = 96): string {
  return `/api${runPath(run)}/samples/heatmap?id=${enc(sampleId)}&size=${size}&alpha=1`;
}

export function tileUrl(run: string, slicer: string, sliceId: string): string {
  return `/api${setPath(run, slicer)}/mosaic/${enc(sliceId)}.png`;
}

export async function getPoints(run: string, slicer: string): Promise<Points> {
  const r = await check(await fetch(`/api${setPath(run, slicer)}/points`));
  const n = Number(r.headers.get("X-Count"));
  const buf = await r.arrayBuffer();
  return {
    n,
    x: new Float32Array(buf, 0, n),
    y: new Float32Array(buf, 4 * n, n),
    slice: new Int32Array(buf, 8 * n, n),
    label: new Int16Array(buf, 12 * n, n),
    pred: new Int16Array(buf, 14 * n, n),
    correct: new Int8Array(buf, 16 * n, n),
  };
}

export const fmt = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits);

export const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? "–" : `${(100 * v).toFixed(1)}%`;
