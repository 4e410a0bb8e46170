/**
 * The JSON form of a DAG: what the DAG processor stores as a DAG version and what the
 * scheduler, the API and the dashboard read. It holds no code; workers import the DAG file
 * again (in their sandbox) to get the task functions.
 */
import { z } from "zod";
import type { Dag, TaskKind, TaskRole } from "./dag.ts";
import type { Permissions, TriggerRule } from "./types.ts";

export interface SerializedTask {
  taskId: string;
  kind: TaskKind;
  role: TaskRole;
  group: string | null;
  /** Direct upstream task ids, sorted. */
  upstream: string[];
  downstream: string[];
  inputs: Record<string, string>;
  expand: Record<string, { task: string } | { values: unknown[] }> | null;
  /**
   * The expand keys in declaration order, which decides the cross product's order (jsonb sorts
   * an object's keys). Absent in versions stored before it was recorded.
   */
  expandOrder?: string[] | null;
  setups: string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
  timeoutMs: number | null;
  pool: string;
  poolSlots: number;
  /** The task's own weight plus its downstream tasks' (Airflow's "downstream" weight rule). */
  priorityWeight: number;
  queue: string;
  dependsOnPast: boolean;
  permissions: Permissions;
  freshRunner: boolean;
  memoryMb: number | null;
  maxMapLength: number;
  ignoreDownstreamTriggerRules: boolean;
  callbacks: { success: boolean; failure: boolean; retry: boolean };
  doc: string | null;
}

export interface SerializedDag {
  dagId: string;
  description: string | null;
  doc: string | null;
  tags: string[];
  schedule: string | null;
  timezone: string;
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  pausedOnCreation: boolean;
  /** JSON Schema of the params (input side: defaults are optional), or null. */
  paramsSchema: Record<string, unknown> | null;
  /**
   * Set when the DAG accepts webhooks; `secretEnv` names the variable holding its secret (null:
   * the default name). Absent in versions stored before webhooks existed: read it as null.
   */
  webhook?: { secretEnv: string | null } | null;
  callbacks: { success: boolean; failure: boolean };
  /**
   * What the DAG's own callbacks may do: the permissions of its `defaults`. Absent in versions
   * stored before DAG callbacks ran: read it as none.
   */
  callbackPermissions?: Permissions;
  groups: string[];
  tasks: SerializedTask[];
}

const DEFAULT_RETRY_DELAY_MS = 300_000;

export function serializeDag(dag: Dag): SerializedDag {
  const o = dag.options;
  const downstream = new Map<string, string[]>();
  for (const task of dag.tasks.values()) {
    for (const up of task.upstream) downstream.set(up, [...(downstream.get(up) ?? []), task.id]);
  }
  const weights = downstreamWeights(dag, downstream);
  const tasks = [...dag.tasks.values()].map((t): SerializedTask => {
    const opt = t.options;
    return {
      taskId: t.id,
      kind: t.kind,
      role: t.role,
      group: t.group,
      upstream: [...t.upstream].sort(),
      downstream: (downstream.get(t.id) ?? []).sort(),
      inputs: t.inputs,
      expand: t.expand,
      expandOrder: t.expand ? Object.keys(t.expand) : null,
      setups: t.setups,
      triggerRule: opt.triggerRule ?? "all_success",
      retries: opt.retries ?? 0,
      retryDelayMs: (opt.retryDelay as number | undefined) ?? DEFAULT_RETRY_DELAY_MS,
      retryExponentialBackoff: opt.retryExponentialBackoff ?? false,
      maxRetryDelayMs: (opt.maxRetryDelay as number | undefined) ?? null,
      timeoutMs: (opt.timeout as number | undefined) ?? null,
      pool: opt.pool ?? "default_pool",
      poolSlots: opt.poolSlots ?? 1,
      priorityWeight: weights.get(t.id)!,
      queue: opt.queue ?? "default",
      dependsOnPast: opt.dependsOnPast ?? false,
      permissions: opt.permissions ?? {},
      freshRunner: opt.freshRunner ?? false,
      memoryMb: opt.memoryMb ?? null,
      maxMapLength: opt.maxMapLength ?? 1024,
      ignoreDownstreamTriggerRules: t.ignoreDownstreamTriggerRules,
      callbacks: {
        success: typeof opt.onSuccess === "function",
        failure: typeof opt.onFailure === "function",
        retry: typeof opt.onRetry === "function",
      },
      doc: opt.doc ?? null,
    };
  });
  return {
    dagId: dag.id,
    description: o.description ?? null,
    doc: o.doc ?? null,
    tags: o.tags ?? [],
    schedule: o.schedule ?? null,
    timezone: o.timezone ?? "UTC",
    startDate: o.startDate?.toISOString() ?? null,
    endDate: o.endDate?.toISOString() ?? null,
    catchup: o.catchup ?? false,
    maxActiveRuns: o.maxActiveRuns ?? 16,
    maxActiveTasks: o.maxActiveTasks ?? 16,
    pausedOnCreation: o.pausedOnCreation ?? false,
    paramsSchema: dag.paramsSchema
      ? z.toJSONSchema(dag.paramsSchema, { io: "input", unrepresentable: "any" }) as Record<
        string,
        unknown
      >
      : null,
    webhook: o.webhook
      ? { secretEnv: (typeof o.webhook === "object" ? o.webhook.secretEnv : undefined) ?? null }
      : null,
    callbacks: {
      success: typeof o.onSuccess === "function",
      failure: typeof o.onFailure === "function",
    },
    callbackPermissions: o.defaults?.permissions ?? {},
    groups: [...dag.groups.keys()],
    tasks,
  };
}

/** Each task's weight plus the weights of every task downstream of it. */
function downstreamWeights(dag: Dag, downstream: Map<string, string[]>): Map<string, number> {
  const result = new Map<string, number>();
  for (const id of dag.tasks.keys()) {
    const seen = new Set<string>([id]);
    const queue = [id];
    let sum = 0;
    while (queue.length > 0) {
      const current = queue.pop()!;
      sum += dag.tasks.get(current)!.options.priorityWeight ?? 1;
      for (const next of downstream.get(current) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    result.set(id, sum);
  }
  return result;
}
