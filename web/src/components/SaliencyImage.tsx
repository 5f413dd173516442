// The saliency image of a concept seed (GET /runs/{run}/concepts/saliency), loaded through
// the query cache: the server computes it once per (run, image, parameters) and stores it
// in the run folder (ETag, Cache-Control immutable); here the next and previous seeds'
// images are prefetched, and while one loads the previous image stays visible under a
// "computing saliency…" indicator instead of a blank frame.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { ApiError } from "../api";
import { queryClient } from "../hooks";

const KEY = "saliency-image";

export function saliencyUrl(run: string, id: string, size = 224) {
  return `/api/runs/${encodeURIComponent(run)}/concepts/saliency?id=${encodeURIComponent(id)}&size=${size}`;
}

/** An object URL of the PNG, already decoded (so that swapping an img's src to it is
 * immediate, never a frame without a picture); revoked when the query leaves the cache. */
async function fetchImage(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new ApiError(r.status, `saliency image: ${r.status} ${r.statusText}`);
  const obj = URL.createObjectURL(await r.blob());
  const im = new Image();
  im.src = obj;
  await im.decode().catch(() => undefined); // a broken PNG shows as such, not as an error here
  return obj;
}

function options(run: string, id: string) {
  return {
    queryKey: [KEY, run, id],
    queryFn: () => fetchImage(saliencyUrl(run, id)),
    staleTime: Infinity, // a run's saliency image never changes
    gcTime: 15 * 60_000,
    meta: { keep: true }, // answers saved do not change it
  };
}

queryClient.getQueryCache().subscribe((e) => {
  if (e.type === "removed" && e.query.queryKey[0] === KEY && typeof e.query.state.data === "string") {
    URL.revokeObjectURL(e.query.state.data);
  }
});

/** Fetch the saliency images of ``ids`` into the cache (the seeds next to the shown one). */
export function usePrefetchSaliency(run: string, ids: (string | undefined)[]) {
  const key = ids.join("\n");
  useEffect(() => {
    for (const id of ids) if (id) void queryClient.prefetchQuery(options(run, id));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [run, key]);
}

export default function SaliencyImage({ run, id }: { run: string; id: string }) {
  const q = useQuery({ ...options(run, id), placeholderData: keepPreviousData });
  const loading = q.isPlaceholderData || (q.isFetching && q.data === undefined);
  return (
    <div className="saliency-frame" data-testid="saliency-frame" aria-busy={loading}>
      {q.data ? (
        <img src={q.data} alt={`saliency ${id}`} width={224} height={224} data-testid="saliency-image"
          data-image-id={q.isPlaceholderData ? "" : id} style={loading ? { opacity: 0.55 } : undefined} />
      ) : (
        <div className="saliency-wait" style={{ width: 224, height: 224 }}>
          {q.error ? `no saliency image: ${q.error.message}` : "computing saliency…"}
        </div>
      )}
      {loading && q.data && <span className="saliency-loading" data-testid="saliency-loading">computing saliency…</span>}
    </div>
  );
}
