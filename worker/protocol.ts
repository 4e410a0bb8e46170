/**
 * Messages between a worker (or the DAG processor) and a runner process. Requests go to the
 * runner's stdin as JSON lines; answers come back on stdout as JSON lines behind a per-runner
 * prefix, so anything else a task writes to stdout or stderr is kept as a log line, never
 * mistaken for an answer.
 */
import type { TaskError } from "../sdk/types.ts";

/** The run and task facts a task's context is built from; dates as ISO strings. */
export interface WireContext {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  maxTries: number;
  logicalDate: string | null;
  dataInterval: { start: string; end: string } | null;
  conf: Record<string, unknown>;
  upstream: Record<string, unknown>;
}

export type RunnerRequest =
  | { op: "parse"; id: number; file: string }
  | {
    op: "task";
    id: number;
    file: string;
    /** The DAG version's hash: the file is imported as `<file>?v=<version>`, once per version. */
    version?: string;
    context: WireContext;
    input: Record<string, unknown>;
    /**
     * Send "started" before calling the task: the worker asks when the runner has yet to import
     * this version, so the import does not count against the task's timeout. A warm runner starts
     * at once, and one message less per task is a process wake-up less on each side.
     */
    announceStart?: boolean;
    /** Decides which callback runs when the try fails: onRetry or onFailure. */
    willRetry: boolean;
    maxResultBytes: number;
  }
  | {
    op: "task_callback";
    id: number;
    file: string;
    version?: string;
    context: WireContext;
    kind: "success" | "failure" | "retry";
    error: TaskError | null;
  }
  | {
    op: "dag_callback";
    id: number;
    file: string;
    version?: string;
    context: Omit<WireContext, "taskId" | "mapIndex" | "tryNumber" | "maxTries" | "upstream">;
    state: "success" | "failed";
  };

export type LogLevel = "debug" | "info" | "warn" | "error";

export type RunnerMessage =
  | { type: "log"; id: number; level: LogLevel; ts: string; line: string }
  /** The task's code is imported and its function is about to be called. */
  | { type: "started"; id: number }
  /** `json` is the result serialized once, in the runner, so its size is checked there. */
  | { type: "result"; id: number; ok: true; json: string; ms?: number }
  | { type: "result"; id: number; ok: false; error: TaskError };

export function toTaskError(error: unknown): TaskError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { name: "Error", message: typeof error === "string" ? error : Deno.inspect(error) };
}
