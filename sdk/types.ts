/**
 * The types DAG authors see. Everything here is plain data or a function signature; the
 * builder in `dag.ts` turns calls into these shapes and `serialize.ts` turns them into JSON.
 */
import type { TriggerRule } from "../scheduler/trigger_rules.ts";

export type { TriggerRule };

/** Milliseconds, or a string such as "500ms", "30s", "5m", "1h30m", "2d". */
export type Duration = number | string;

/**
 * What a task may do at run time. Nothing is allowed unless listed. Paths are read relative to
 * the worker's working directory; environment variables are copied from the worker's
 * environment (Gust's own settings, such as `DATABASE_URL` and `GUST_*`, are never passed).
 */
export interface Permissions {
  /** Hosts (`"api.example.com"`, `"127.0.0.1:8080"`) the task may reach, or `true` for any. */
  net?: string[] | true;
  read?: string[];
  write?: string[];
  env?: string[];
  /** Programs the task may run. */
  run?: string[];
  /** System information (`Deno.hostname()`, `Deno.osRelease()`, ...). */
  sys?: boolean;
}

export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface DataInterval {
  start: Date;
  end: Date;
}

export interface RunContext<P = Record<string, unknown>> {
  dagId: string;
  runId: string;
  /** Start of the data interval for scheduled runs; the trigger time for manual ones. */
  logicalDate: Date | null;
  dataInterval: DataInterval | null;
  /** The run's conf, validated and defaulted by the DAG's params schema. */
  params: P;
  log: Logger;
}

export interface TaskContext<P = Record<string, unknown>> extends RunContext<P> {
  taskId: string;
  /** Position in a mapped task's expansion; -1 for a task that is not mapped. */
  mapIndex: number;
  /** 1 for the first try. */
  tryNumber: number;
  /** Number of retries allowed; a task runs at most `maxTries + 1` times. */
  maxTries: number;
  /** Results of the direct upstream tasks, by task id (a mapped upstream gives an array). */
  upstream: Record<string, unknown>;
}

export interface TaskError {
  name: string;
  message: string;
  stack?: string;
}

export interface TaskCallbackContext<P = Record<string, unknown>> extends TaskContext<P> {
  /** The error of the try, for failure and retry callbacks. */
  error: TaskError | null;
}

export interface DagCallbackContext<P = Record<string, unknown>> extends RunContext<P> {
  state: "success" | "failed";
}

export type TaskCallback<P> = (ctx: TaskCallbackContext<P>) => void | Promise<void>;
export type DagCallback<P> = (ctx: DagCallbackContext<P>) => void | Promise<void>;

/** Options every task accepts; a DAG's `defaults` and a group's `defaults` take the same. */
export interface TaskOptions<P = Record<string, unknown>> {
  /** Number of retries after the first try fails. Default 0. */
  retries?: number;
  /** Wait before a retry. Default 5 minutes, as in Airflow. */
  retryDelay?: Duration;
  /** Double the delay after each try (capped by `maxRetryDelay`). */
  retryExponentialBackoff?: boolean;
  maxRetryDelay?: Duration;
  /** A try running longer than this is stopped and fails. Default: no limit. */
  timeout?: Duration;
  triggerRule?: TriggerRule;
  pool?: string;
  poolSlots?: number;
  /** Higher runs first; Airflow's "downstream" rule: the weights of all downstream tasks add up. */
  priorityWeight?: number;
  /** Workers serve the queues they are given; default "default". */
  queue?: string;
  /** Run only when this task succeeded (or was skipped) in the previous run of the DAG. */
  dependsOnPast?: boolean;
  permissions?: Permissions;
  /** Start a new runner process for every try instead of reusing a warm one. */
  freshRunner?: boolean;
  /** Heap limit of the runner process, in MiB. Default from the worker configuration. */
  memoryMb?: number;
  /** The most instances a mapped task may expand to. Default 1024. */
  maxMapLength?: number;
  onSuccess?: TaskCallback<P>;
  onFailure?: TaskCallback<P>;
  onRetry?: TaskCallback<P>;
  /** Shown in the UI. */
  doc?: string;
}

declare const resultType: unique symbol;

/** A handle on a task, used to declare dependencies and typed inputs. */
export interface TaskRef<T = unknown> {
  readonly kind: "task";
  readonly id: string;
  readonly mapped: boolean;
  /** Type-only: what the task's result resolves to downstream. */
  readonly [resultType]?: T;
}

/** A handle on a task group: as an upstream it stands for its leaves, as a downstream its roots. */
export interface GroupRef {
  readonly kind: "group";
  readonly id: string;
}

export type Upstream = TaskRef<unknown> | GroupRef | string;

/** `{ name: ref }` becomes `{ name: result }` in the task function's inputs. */
export type ResolveInputs<I> = { [K in keyof I]: I[K] extends TaskRef<infer T> ? T : I[K] };

/** `{ name: ref-to-array | array }` becomes `{ name: element }` for each mapped instance. */
export type ResolveExpand<E> = {
  [K in keyof E]: E[K] extends TaskRef<infer T> ? (T extends readonly (infer U)[] ? U : never)
    : E[K] extends readonly (infer U)[] ? U
    : never;
};

export type Inputs = Record<string, TaskRef<unknown>>;
export type Expand = Record<string, TaskRef<readonly unknown[]> | readonly unknown[]>;

export interface TaskSpec<P, I extends Inputs, E extends Expand> extends TaskOptions<P> {
  /** Tasks that must finish first (per the trigger rule), besides those named in `inputs`. */
  dependsOn?: Upstream[];
  /** Results of other tasks passed to the function; each one is also an upstream dependency. */
  inputs?: I;
  /** Dynamic task mapping: one instance per element (per combination, for several keys). */
  expand?: E;
}
