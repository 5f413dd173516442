// Data hooks on one query cache (TanStack Query): answers are cached and shared between
// components and remounts (a tab opened again shows its data at once and asks the server
// again in the background), equal requests in flight are made once, jobs are polled with
// `refetchInterval`, and every change the app makes (a mutation through `send`, or a job
// that ended) invalidates the cache, so no view shows data from before the change.
import { QueryClient, keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { ApiError, get, onMutated, type Job } from "./api";

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // a 4xx answer is final (shown at once); a network error is tried twice more
      retry: (failures, error) => !(error instanceof ApiError) && failures < 2,
      refetchOnWindowFocus: false,
    },
  },
});

/** After a change on the server: forget inactive answers (never shown stale on the next
 * mount) and reload the active ones, except those marked `keep` (e.g. the scatter's
 * points, which marks and edits do not change). */
export function invalidate() {
  const changes = (q: { meta?: Record<string, unknown> }) => !q.meta?.keep;
  queryClient.removeQueries({ type: "inactive", predicate: changes });
  void queryClient.invalidateQueries({ type: "active", predicate: changes });
}
onMutated(invalidate);

export interface AsyncOptions<T> {
  /** Milliseconds until the next reload given the answer (false: none), e.g. while the
   * server is still propagating marks. */
  poll?: (data: T) => number | false;
  /** Not reloaded after changes (the answer only depends on `deps`). */
  keep?: boolean;
}

/** Load ``fn()`` whenever ``deps`` change (``null``: nothing to load); the previous answer
 * stays shown while the next one loads. Cached under the call site (``fn``'s source) and
 * ``deps``: everything ``fn`` reads must be in ``deps``, as before. */
export function useAsync<T>(fn: () => Promise<T> | null, deps: unknown[], opts: AsyncOptions<T> = {}) {
  const q = useQuery({
    queryKey: ["async", fn.toString(), ...deps],
    queryFn: () => fn() ?? null,
    placeholderData: keepPreviousData,
    refetchInterval: opts.poll ? (query) => {
      const data = query.state.data;
      return data === undefined || data === null ? false : opts.poll!(data);
    } : false,
    meta: { keep: opts.keep ?? false },
  });
  return { data: q.data ?? null, error: q.error ? q.error.message : null, loading: q.isFetching };
}

const ended = (j: Job | undefined) => j !== undefined && (j.status === "done" || j.status === "failed");

/** Poll a background job once a second until it is done or failed (every 2 s after a
 * network error); when it ends, invalidate the cache and call ``onEnd`` once. */
export function useJob(jobId: string | null, onEnd?: (job: Job) => void) {
  const q = useQuery({
    queryKey: ["job", jobId],
    queryFn: () => get<Job>(`/jobs/${jobId}`),
    enabled: jobId !== null,
    retry: false,
    refetchInterval: (query) => (ended(query.state.data) ? false : query.state.error ? 2000 : 1000),
    refetchIntervalInBackground: true,
    meta: { keep: true },
  });
  const job = jobId === null ? null : q.data ?? null;
  const reported = useRef<string | null>(null);
  const end = useRef(onEnd);
  end.current = onEnd;
  useEffect(() => {
    if (job && ended(job) && reported.current !== job.id) {
      reported.current = job.id;
      invalidate();
      end.current?.(job);
    }
  }, [job]);
  return job;
}
