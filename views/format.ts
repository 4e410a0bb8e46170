/** Formatting and addresses shared by the dashboard's views. Times are shown in UTC. */

export function formatTime(date: Date | null | undefined): string {
  if (!date) return "";
  return date.toISOString().replace("T", " ").slice(0, 19);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** The time between two dates, or from `start` until now when the end is not there yet. */
export function elapsed(start: Date | null, end: Date | null, now = new Date()): number | null {
  if (!start) return null;
  return (end ?? now).getTime() - start.getTime();
}

const enc = encodeURIComponent;

export const urls = {
  dags: (query: { q?: string; tag?: string | null; page?: number } = {}) => {
    const params = new URLSearchParams();
    if (query.q) params.set("q", query.q);
    if (query.tag) params.set("tag", query.tag);
    if (query.page && query.page > 1) params.set("page", String(query.page));
    const text = params.toString();
    return text ? `/?${text}` : "/";
  },
  dag: (dagId: string) => `/dags/${enc(dagId)}`,
  dagTab: (dagId: string, tab: string) => `/dags/${enc(dagId)}/${tab}`,
  pause: (dagId: string) => `/dags/${enc(dagId)}/pause`,
  trigger: (dagId: string) => `/dags/${enc(dagId)}/trigger`,
  run: (dagId: string, runId: string) => `/dags/${enc(dagId)}/runs/${enc(runId)}`,
  ti: (dagId: string, runId: string, taskId: string, mapIndex = -1) =>
    `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}${
      mapIndex >= 0 ? `?map=${mapIndex}` : ""
    }`,
  tiAction: (dagId: string, runId: string, taskId: string, action: string) =>
    `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}/${action}`,
  tiById: (id: number) => `/ti/${id}`,
};

/** An address with the `try` query parameter added. */
export function withTry(url: string, tryNumber: number): string {
  return `${url}${url.includes("?") ? "&" : "?"}try=${tryNumber}`;
}

/**
 * One state for several instances (a mapped task's cell): the one a person most needs to see,
 * work in progress first, then trouble, then the finished kinds.
 */
export const STATE_PRIORITY = [
  "running",
  "queued",
  "scheduled",
  "up_for_retry",
  "up_for_reschedule",
  "failed",
  "upstream_failed",
  "none",
  "success",
  "skipped",
  "removed",
];

export function summarizeStates(states: (string | null)[]): string {
  let best = "removed";
  let bestRank = STATE_PRIORITY.length;
  for (const s of states) {
    const state = s ?? "none";
    const rank = STATE_PRIORITY.indexOf(state);
    if (rank >= 0 && rank < bestRank) {
      best = state;
      bestRank = rank;
    }
  }
  return states.length ? best : "none";
}

const KNOWN = new Set(STATE_PRIORITY);

/** The CSS class of a state; an unknown value falls back to "none" (never a raw class name). */
export function stateClass(state: string | null | undefined): string {
  const s = state ?? "none";
  return `s-${KNOWN.has(s) ? s : "none"}`;
}

export const ACTIVE_RUN_STATES = new Set(["queued", "running"]);
