/**
 * The zod schemas that check what a DAG file declares. They run once, when the file is loaded,
 * so a typo (`retires: 3`) or a bad value (`triggerRule: "all_sucess"`) is an import error that
 * names the DAG, the task and the option, instead of a surprise at run time.
 */
import { z } from "zod";
import { TRIGGER_RULES } from "../scheduler/trigger_rules.ts";

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `1500`, `"1.5s"`, `"1h30m"`; returns null when the text is not a duration. */
export function parseDuration(value: number | string): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : null;
  const text = value.replace(/\s+/g, "");
  if (text === "") return null;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(DURATION_PART)) {
    if (match.index !== consumed) return null;
    total += Number(match[1]) * UNIT_MS[match[2]];
    consumed += match[0].length;
  }
  return consumed === text.length ? Math.round(total) : null;
}

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message: `Invalid duration ${JSON.stringify(value)} (use milliseconds or "30s", "5m", "1h")`,
    });
    return z.NEVER;
  }
  return ms;
});

/** Airflow's rule for ids: letters, digits, dashes, dots and underscores, at most 250. */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,250}$/;
export const idSchema = z.string().regex(
  ID_PATTERN,
  "must be 1 to 250 letters, digits, dashes, dots or underscores",
);

const hostList = z.array(z.string().min(1));
export const permissionsSchema = z.strictObject({
  net: z.union([hostList, z.literal(true)]).optional(),
  read: z.array(z.string().min(1)).optional(),
  write: z.array(z.string().min(1)).optional(),
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name")).optional(),
  run: z.array(z.string().min(1)).optional(),
  sys: z.boolean().optional(),
});

// deno-lint-ignore no-explicit-any
const callback = z.custom<(...args: any[]) => any>(
  (v) => typeof v === "function",
  "must be a function",
);

export const taskOptionsShape = {
  retries: z.number().int().min(0).max(100).optional(),
  retryDelay: duration.optional(),
  retryExponentialBackoff: z.boolean().optional(),
  maxRetryDelay: duration.optional(),
  timeout: duration.optional(),
  triggerRule: z.enum(TRIGGER_RULES).optional(),
  pool: idSchema.optional(),
  poolSlots: z.number().int().min(1).optional(),
  priorityWeight: z.number().int().optional(),
  queue: idSchema.optional(),
  dependsOnPast: z.boolean().optional(),
  permissions: permissionsSchema.optional(),
  freshRunner: z.boolean().optional(),
  memoryMb: z.number().int().min(16).max(65536).optional(),
  maxMapLength: z.number().int().min(1).max(1_000_000).optional(),
  onSuccess: callback.optional(),
  onFailure: callback.optional(),
  onRetry: callback.optional(),
  doc: z.string().optional(),
};

export const taskOptionsSchema = z.strictObject(taskOptionsShape);

const upstream = z.union([
  z.string(),
  z.custom((v) => typeof v === "object" && v !== null && "kind" in v && "id" in v, "not a task"),
]);

// What `t.task()` returns. A task id string would pass the type check of a .js DAG file only,
// but `inputs` and `expand` need the task itself, to pass its result.
const taskRef = z.custom(
  (v) =>
    typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "task" &&
    typeof (v as { id?: unknown }).id === "string",
  "must be a task (what t.task() returns)",
);

export const taskSpecSchema = z.strictObject({
  ...taskOptionsShape,
  dependsOn: z.array(upstream).optional(),
  inputs: z.record(z.string(), taskRef).optional(),
  expand: z.record(
    z.string(),
    z.union([taskRef, z.array(z.unknown())], "must be a task or an array"),
  ).optional(),
  setups: z.array(upstream).optional(),
  ignoreDownstreamTriggerRules: z.boolean().optional(),
});

const date = z.union([z.date(), z.string()]).transform((value, ctx) => {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) {
    ctx.addIssue({ code: "custom", message: `Invalid date ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return d;
});

export const dagOptionsSchema = z.strictObject({
  id: idSchema,
  description: z.string().optional(),
  doc: z.string().optional(),
  tags: z.array(z.string().min(1).max(100)).optional(),
  schedule: z.string().nullable().optional(),
  startDate: date.optional(),
  endDate: date.optional(),
  timezone: z.string().optional(),
  catchup: z.boolean().optional(),
  maxActiveRuns: z.number().int().min(1).optional(),
  maxActiveTasks: z.number().int().min(1).optional(),
  defaults: taskOptionsSchema.optional(),
  params: z.custom<z.ZodType>((v) => v instanceof z.ZodType, "must be a zod schema").optional(),
  onSuccess: callback.optional(),
  onFailure: callback.optional(),
  pausedOnCreation: z.boolean().optional(),
  webhook: z.union([
    z.boolean(),
    z.strictObject({
      secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name").optional(),
    }),
  ]).optional(),
});

/** `path: message` for each issue, the way a DAG author reads it. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const path = issue.path.join(".");
    const message = issue.code === "unrecognized_keys"
      ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`
      : issue.message;
    return path ? `${path}: ${message}` : message;
  }).join("; ");
}
