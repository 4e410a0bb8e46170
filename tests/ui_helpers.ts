/**
 * Helpers for the dashboard's tests: parse HTML into a DOM (so tests assert through selectors),
 * send requests as a page of the site would, and store DAGs directly (bypassing the DAG
 * processor's validation, to hold ids and texts no DAG file could declare).
 */
import { parseHTML } from "linkedom";
import type { Hono } from "hono";
import type { Db } from "../db/client.ts";
import { storeDagVersion } from "../db/dags.ts";
import { createDagRun } from "../db/runs.ts";
import type { AppEnv } from "../routes/mod.ts";
import { adminApp, ORIGIN } from "./auth_helpers.ts";
import type { SerializedDag, SerializedTask } from "../sdk/serialize.ts";

export { ORIGIN };

/** The dashboard as an Admin sees it (see `auth_helpers.ts`). */
export function testApp(db: Db): Hono<AppEnv> {
  return adminApp({ db, roles: ["web"], startedAt: new Date() });
}

export type Doc = ReturnType<typeof parseHTML>["document"];

export function parse(html: string): Doc {
  return parseHTML(html).document;
}

export async function getPage(
  app: Hono<AppEnv>,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ res: Response; doc: Doc; html: string }> {
  const res = await app.request(path, { headers });
  const html = await res.text();
  return { res, doc: parse(html), html };
}

/** A form POST from a page of this site (same Origin), as htmx sends it unless `htmx: false`. */
export async function postForm(
  app: Hono<AppEnv>,
  path: string,
  fields: Record<string, string> = {},
  options: { htmx?: boolean; headers?: Record<string, string> } = {},
): Promise<{ res: Response; doc: Doc; html: string }> {
  const res = await app.request(path, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: ORIGIN,
      ...(options.htmx === false ? {} : { "HX-Request": "true" }),
      ...options.headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
  const html = await res.text();
  return { res, doc: parse(html), html };
}

export function task(taskId: string, o: Partial<SerializedTask> = {}): SerializedTask {
  return {
    taskId,
    kind: "task",
    role: "work",
    group: null,
    upstream: [],
    downstream: [],
    inputs: {},
    expand: null,
    setups: [],
    triggerRule: "all_success",
    retries: 0,
    retryDelayMs: 1000,
    retryExponentialBackoff: false,
    maxRetryDelayMs: null,
    timeoutMs: null,
    pool: "default_pool",
    poolSlots: 1,
    priorityWeight: 1,
    queue: "default",
    dependsOnPast: false,
    permissions: {},
    freshRunner: false,
    memoryMb: null,
    maxMapLength: 1024,
    ignoreDownstreamTriggerRules: false,
    callbacks: { success: false, failure: false, retry: false },
    doc: null,
    ...o,
  } as SerializedTask;
}

/** Links tasks `[from, to]` both ways, as the serializer does. */
export function linked(tasks: SerializedTask[], edges: [string, string][]): SerializedTask[] {
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  for (const [from, to] of edges) {
    byId.get(from)!.downstream.push(to);
    byId.get(to)!.upstream.push(from);
  }
  return tasks;
}

export function fakeDag(dagId: string, o: Partial<SerializedDag> = {}): SerializedDag {
  return {
    dagId,
    description: null,
    doc: null,
    tags: [],
    schedule: null,
    timezone: "UTC",
    startDate: null,
    endDate: null,
    catchup: false,
    maxActiveRuns: 16,
    maxActiveTasks: 16,
    pausedOnCreation: false,
    paramsSchema: null,
    callbacks: { success: false, failure: false },
    groups: [],
    tasks: [task("only")],
    ...o,
  };
}

/** Stores a DAG version as the DAG processor would; returns the version id. */
export async function storeFakeDag(
  db: Db,
  dag: SerializedDag,
  source = `// ${dag.dagId}\n`,
): Promise<number> {
  const { versionId } = await storeDagVersion(db, {
    serialized: dag,
    hash: crypto.randomUUID(),
    fileloc: `${dag.dagId}.ts`,
    source,
    now: new Date(),
  });
  return versionId;
}

/**
 * Stores `dag` and one manual run of it, `runId`, as a trigger would (its task instances
 * created, none started); returns the run's id.
 */
export async function storeFakeRun(
  db: Db,
  dag: SerializedDag,
  runId: string,
  o: { logicalDate?: Date | null; now?: Date } = {},
): Promise<number> {
  return await createFakeRun(db, dag, await storeFakeDag(db, dag), runId, o);
}

/** One manual run, `runId`, of a stored version of `dag`; returns the run's id. */
export async function createFakeRun(
  db: Db,
  dag: SerializedDag,
  versionId: number,
  runId: string,
  o: { logicalDate?: Date | null; now?: Date } = {},
): Promise<number> {
  const now = o.now ?? new Date();
  const { id } = await db.begin((tx) =>
    createDagRun(
      tx,
      {
        dagId: dag.dagId,
        runId,
        runType: "manual",
        logicalDate: o.logicalDate === undefined ? now : o.logicalDate,
        dataInterval: null,
        runAfter: now,
        conf: {},
        versionId,
        triggeredBy: null,
      },
      dag,
      now,
    )
  );
  return id;
}

/** Every attribute of every element, for "no event handler attribute anywhere" checks. */
export function attributeNames(doc: Doc): string[] {
  const names: string[] = [];
  for (const el of doc.querySelectorAll("*")) {
    for (const attr of el.attributes) names.push(attr.name.toLowerCase());
  }
  return names;
}

/** A DAG with params of each kind, a group, and a task that prints a line and returns a result. */
export const FLOW_DAG = `
import { dag } from "gust";
import { z } from "zod";
export default dag({
  id: "flow",
  description: "A small flow",
  tags: ["team-a"],
  params: z.object({
    name: z.string().default("world").describe("Who to greet"),
    count: z.number().int().min(1).default(2),
    mode: z.enum(["fast", "slow"]).default("fast"),
    loud: z.boolean().default(false),
  }),
}, (t) => {
  const hello = t.task("hello", (ctx) => {
    console.log("hello " + ctx.params.name);
    return { count: ctx.params.count };
  });
  t.group("g", (g) => {
    g.task("inner", { dependsOn: [hello] }, () => "inner done");
  });
  t.task("last", { dependsOn: ["g.inner"] }, () => 1);
});
`;
