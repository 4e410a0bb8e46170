/** What a workload reports: figures with their samples, and notes that say what was measured. */
import { summarize, type Summary } from "./stats.ts";

export interface Figure {
  /** Who was measured: "Gust (Postgres)", "graphile-worker 0.18.0 (latency)", ... */
  system: string;
  metric: string;
  unit: string;
  better: "lower" | "higher";
  /** One sample per repetition (or per request, where said in the notes). */
  samples: number[];
  summary: Summary;
  /** The target, in the same unit, when it sets one. */
  target?: number;
  /** For figures compared with peers: the key peers' figures share. */
  compare?: string;
}

export interface WorkloadResult {
  id: string;
  title: string;
  figures: Figure[];
  notes: string[];
  seconds: number;
}

export function figure(
  f: Omit<Figure, "summary">,
): Figure {
  return {
    ...f,
    samples: f.samples.map((s) => Math.round(s * 1000) / 1000),
    summary: summarize(f.samples),
  };
}

export function meetsTarget(f: Figure): boolean | null {
  if (f.target === undefined || !Number.isFinite(f.summary.median)) return null;
  return f.better === "lower" ? f.summary.median < f.target : f.summary.median >= f.target;
}

export interface BenchContext {
  /** Admin connection to the local Postgres, or null when it is not reachable. */
  adminUrl: string | null;
  reps: number;
  /** Run the peers (workloads 1 and 2). */
  peers: boolean;
  log: (message: string) => void;
}
