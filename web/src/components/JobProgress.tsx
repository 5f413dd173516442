// A background job's progress, polled by id until it ends.
import type { Job } from "../api";
import { useJob } from "../hooks";

export default function JobProgress({ jobId, onEnd }: { jobId: string; onEnd?: (j: Job) => void }) {
  const job = useJob(jobId, onEnd);
  if (!job) return <span className="job">starting…</span>;
  return (
    <span className="job" data-testid="job" data-status={job.status}>
      <progress max={1} value={job.progress ?? undefined} />
      {job.kind}: {job.status === "failed" ? `failed: ${job.error}` : job.message}
    </span>
  );
}
