import { useEffect, useState } from "react";
import { get, type Job } from "./api";

/** Load ``fn()`` whenever ``deps`` change; stale answers are dropped. */
export function useAsync<T>(fn: () => Promise<T> | null, deps: unknown[]) {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>(
    { data: null, error: null, loading: false },
  );
  useEffect(() => {
    const p = fn();
    if (p === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    p.then(
      (data) => live && setState({ data, error: null, loading: false }),
      (e: Error) => live && setState({ data: null, error: e.message, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}

/** Poll a background job once a second until it is done or failed. */
export function useJob(jobId: string | null, onEnd?: (job: Job) => void) {
  const [job, setJob] = useState<Job | null>(null);
  useEffect(() => {
    if (!jobId) {
      setJob(null);
      return;
    }
    let live = true;
    let timer = 0;
    const tick = async () => {
      try {
        const j = await get<Job>(`/jobs/${jobId}`);
        if (!live) return;
        setJob(j);
        if (j.status === "done" || j.status === "failed") onEnd?.(j);
        else timer = window.setTimeout(tick, 1000);
      } catch {
        if (live) timer = window.setTimeout(tick, 2000);
      }
    };
    tick();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobId]);
  return job;
}
