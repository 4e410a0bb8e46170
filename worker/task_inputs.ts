/**
 * What a claimed task instance is given: its named inputs (the results of the tasks they name)
 * and the upstream results its context shows. A mapped instance gets its own elements of the
 * lists it maps over, and those lists are left out of its upstream. Instances claimed together
 * have their elements read together (a fan-out claims them by the dozen), and a list mapped over
 * is read once per process, not once per instance (see SourceResults).
 */
import type { Sql } from "../db/client.ts";
import { getDagVersion } from "../db/dags.ts";
import {
  type ClaimedTi,
  loadExpandElements,
  loadResults,
  mappedSource,
  sourceResult,
} from "../db/task_instances.ts";
import type { SerializedDag, SerializedTask } from "../sdk/serialize.ts";

export interface TaskInputs {
  input: Record<string, unknown>;
  upstream: Map<string, unknown>;
}

type Elements = Record<string, unknown> | null;

export class InputLoader {
  /** Elements read ahead for instances claimed together, by task instance id. */
  private ahead = new Map<number, Promise<Map<number, unknown> | null>>();
  private readonly sources = new SourceResults();

  constructor(private readonly sql: Sql) {}

  /** Reads ahead, together, the elements of the single-key mapped instances claimed. */
  prefetch(claimed: ClaimedTi[]): void {
    const mapped = claimed.filter((ti) => ti.mapIndex >= 0);
    if (mapped.length === 0) return;
    const read = (async () => {
      const items = [];
      for (const ti of mapped) {
        const task = await findTask(this.sql, ti);
        const source = task && singleSource(task);
        if (source) {
          items.push({ id: ti.id, dagRunId: ti.dagRunId, sourceTask: source, index: ti.mapIndex });
        }
      }
      return await this.sources.elements(this.sql, items);
    })().catch(() => null); // each instance then reads its own
    for (const ti of mapped) this.ahead.set(ti.id, read);
  }

  async load(ti: ClaimedTi, task: SerializedTask, dag: SerializedDag): Promise<TaskInputs> {
    const elements = task.expand && ti.mapIndex >= 0 ? await this.elements(ti, task, dag) : null;
    // A list mapped over is not read again, unless an input names it too.
    const named = new Set(Object.values(task.inputs));
    const sources = new Set(
      elements
        ? Object.values(task.expand!).flatMap((
          s,
        ) => ("task" in s && !named.has(s.task) ? [s.task] : []))
        : [],
    );
    const upstream = await loadResults(
      this.sql,
      ti.dagRunId,
      task.upstream.filter((id) => !sources.has(id)),
    );
    return { input: { ...namedInputs(task, upstream), ...elements }, upstream };
  }

  private async elements(
    ti: ClaimedTi,
    task: SerializedTask,
    dag: SerializedDag,
  ): Promise<Elements> {
    const ahead = this.ahead.get(ti.id);
    this.ahead.delete(ti.id);
    const source = singleSource(task);
    const read = ahead ? await ahead : null;
    if (read && source && read.has(ti.id)) return { [task.expandOrder![0]]: read.get(ti.id) };
    const mapped = new Set(dag.tasks.filter((t) => t.expand).map((t) => t.taskId));
    return await loadExpandElements(
      this.sql,
      ti.dagRunId,
      ti.mapIndex,
      task.expand!,
      task.expandOrder ?? undefined,
      mapped,
    );
  }
}

/**
 * The lists mapped over, parsed once per process. Taking one element out of a stored list makes
 * Postgres decompress all of it: measured in an 8,000-way fan-out, that query was the busiest
 * thing the database did (118 of 190 samples of its active queries), for every instance. Now
 * each claim group asks only which stored row (and row version: a source that ran again is a
 * new one) its list is, and a list is read when it is not held yet.
 */
class SourceResults {
  private lists = new Map<string, unknown[]>();

  async elements(
    sql: Sql,
    items: { id: number; dagRunId: number; sourceTask: string; index: number }[],
  ): Promise<Map<number, unknown>> {
    const found = new Map<number, unknown>();
    // Instances claimed together nearly always map over the same list: one lookup per list.
    const groups = Map.groupBy(items, (i) => `${i.dagRunId}\u0000${i.sourceTask}`);
    for (const group of groups.values()) {
      const source = await mappedSource(sql, group[0].dagRunId, group[0].sourceTask);
      const list = source && await this.list(sql, source.sourceId, source.version);
      if (list) { for (const item of group) found.set(item.id, list[item.index] ?? null); }
    }
    return found;
  }

  private async list(sql: Sql, sourceId: number, version: string): Promise<unknown[] | null> {
    const key = `${sourceId}:${version}`;
    const held = this.lists.get(key);
    if (held) {
      this.lists.delete(key); // most recently used last
      this.lists.set(key, held);
      return held;
    }
    const value = await sourceResult(sql, sourceId, version);
    if (!Array.isArray(value)) return null;
    this.lists.set(key, value);
    if (this.lists.size > MAX_LISTS) this.lists.delete(this.lists.keys().next().value!);
    return value;
  }
}

/** Lists held at once (each at most GUST_MAX_RESULT_BYTES of JSON, 1 MiB by default). */
const MAX_LISTS = 16;

async function findTask(sql: Sql, ti: ClaimedTi): Promise<SerializedTask | undefined> {
  const version = await getDagVersion(sql, ti.dagVersionId);
  return version.serialized.tasks.find((t) => t.taskId === ti.taskId);
}

/** The task a mapped task maps over, when it has one expand key and that key is a task's result. */
function singleSource(task: SerializedTask): string | null {
  const order = task.expandOrder;
  if (!task.expand || !order || order.length !== 1) return null;
  const source = task.expand[order[0]];
  return "task" in source ? source.task : null;
}

/** The function's named inputs: each the result of the task it names (null if it has none). */
function namedInputs(task: SerializedTask, results: Map<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name, taskId] of Object.entries(task.inputs)) {
    input[name] = results.get(taskId) ?? null;
  }
  return input;
}
