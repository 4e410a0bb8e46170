/**
 * The scheduling decision for one DAG run, as a pure function: given the DAG, its task
 * instances and the few results that steer the graph (branches, short-circuits, mapping
 * sources), say which task instances change state, which mapped tasks expand, and whether the
 * run is finished. Tasks are visited in topological order and each decision is applied to the
 * in-memory states at once, so a skip or a failure cascades through the whole graph in one pass
 * instead of one scheduler loop per level.
 */
import type { SerializedDag, SerializedTask } from "../sdk/serialize.ts";
import { countUpstream, evaluateTriggerRule } from "./trigger_rules.ts";
import { isFinished, type TaskState } from "./states.ts";

export interface TiView {
  id: number;
  taskId: string;
  mapIndex: number;
  state: TaskState | null;
  nextRetryAt: Date | null;
}

export interface DecideInput {
  dag: SerializedDag;
  tis: TiView[];
  /** Results of successful branch, short-circuit and mapping-source tasks (mapped: an array). */
  results: Map<string, unknown>;
  /** For `dependsOnPast` tasks: the task's states in the previous run; absent when none. */
  pastStates?: Map<string, (TaskState | null)[]>;
  now: Date;
}

export interface Change {
  id: number;
  from: TaskState | null;
  to: TaskState;
}

export interface Decisions {
  changes: Change[];
  /** A mapped task whose placeholder instance (map index -1) becomes `count` instances. */
  expansions: { id: number; taskId: string; count: number }[];
  runState: "success" | "failed" | null;
}

interface DagIndex {
  order: SerializedTask[];
  byId: Map<string, SerializedTask>;
  downstreamClosure: (taskId: string) => Set<string>;
  groupRoots: Map<string, string[]>;
  leaves: Set<string>;
}

const indexes = new WeakMap<SerializedDag, DagIndex>();

export function decide(input: DecideInput): Decisions {
  const { dag, now } = input;
  const index = dagIndex(dag);
  const byTask = new Map<string, TiView[]>();
  for (const ti of input.tis) {
    const list = byTask.get(ti.taskId);
    if (list) list.push({ ...ti });
    else byTask.set(ti.taskId, [{ ...ti }]);
  }
  const changes: Change[] = [];
  const expansions: Decisions["expansions"] = [];
  const set = (ti: TiView, to: TaskState) => {
    changes.push({ id: ti.id, from: ti.state, to });
    ti.state = to;
  };
  const skippedBySteering = steeringSkips(index, input.results, byTask);

  for (const task of index.order) {
    for (const ti of byTask.get(task.taskId) ?? []) {
      if (ti.state === "up_for_retry" && ti.nextRetryAt && ti.nextRetryAt <= now) {
        set(ti, "scheduled");
        continue;
      }
      if (ti.state !== null) continue;
      if (skippedBySteering.has(task.taskId)) {
        set(ti, "skipped");
        continue;
      }
      const upstream = task.upstream.flatMap((id) =>
        (byTask.get(id) ?? []).map((u) => ({
          state: u.state,
          isSetup: index.byId.get(id)?.role === "setup",
        }))
      );
      const decision = evaluateTriggerRule(task.triggerRule, countUpstream(upstream));
      if (decision === "wait") continue;
      if (decision !== "run") {
        set(ti, decision);
        continue;
      }
      if (task.dependsOnPast && !pastAllows(input.pastStates?.get(task.taskId))) continue;
      if (task.expand && ti.mapIndex === -1) {
        const count = expansionSize(task, input.results, byTask);
        if (count === "upstream_failed" || count === "skipped") set(ti, count);
        else if (count === 0) set(ti, "skipped");
        else {
          expansions.push({ id: ti.id, taskId: task.taskId, count });
          ti.state = "scheduled";
        }
        continue;
      }
      set(ti, "scheduled");
    }
  }
  return { changes, expansions, runState: runState(index, [...byTask.values()].flat()) };
}

/** Airflow's depends_on_past: the previous run's instance succeeded or was skipped. */
function pastAllows(past: (TaskState | null)[] | undefined): boolean {
  return !past || past.every((s) => s === "success" || s === "skipped");
}

/** Tasks skipped because a branch did not follow them or a short-circuit returned falsy. */
function steeringSkips(
  index: DagIndex,
  results: Map<string, unknown>,
  byTask: Map<string, TiView[]>,
): Set<string> {
  const skipped = new Set<string>();
  for (const task of index.order) {
    if (task.kind === "task" || byTask.get(task.taskId)?.[0]?.state !== "success") continue;
    const result = results.get(task.taskId);
    if (task.kind === "branch") {
      const followed = new Set<string>();
      for (const id of branchTargets(result)) {
        for (const root of index.groupRoots.get(id) ?? [id]) {
          followed.add(root);
          for (const d of index.downstreamClosure(root)) followed.add(d);
        }
      }
      for (const d of task.downstream) if (!followed.has(d)) skipped.add(d);
    } else if (!result) {
      const targets = task.ignoreDownstreamTriggerRules
        ? index.downstreamClosure(task.taskId)
        : task.downstream;
      for (const d of targets) skipped.add(d);
    }
  }
  return skipped;
}

export function branchTargets(result: unknown): string[] {
  if (result === null || result === undefined) return [];
  return (Array.isArray(result) ? result : [result]).map(String);
}

/** The number of mapped instances, or the state the placeholder takes when it cannot expand. */
function expansionSize(
  task: SerializedTask,
  results: Map<string, unknown>,
  byTask: Map<string, TiView[]>,
): number | "upstream_failed" | "skipped" {
  let count = 1;
  for (const source of Object.values(task.expand!)) {
    if ("values" in source) {
      count *= source.values.length;
      continue;
    }
    const states = (byTask.get(source.task) ?? []).map((t) => t.state);
    if (states.some((s) => s === "failed" || s === "upstream_failed")) return "upstream_failed";
    if (!states.every((s) => s === "success")) return "skipped";
    const value = results.get(source.task);
    count *= Array.isArray(value) ? value.length : 0;
  }
  return count;
}

/**
 * Airflow's rule: when nothing is unfinished, the run failed if an effective leaf (teardowns
 * do not count) failed or is upstream_failed, and succeeded otherwise.
 */
function runState(index: DagIndex, tis: TiView[]): "success" | "failed" | null {
  if (tis.some((ti) => !isFinished(ti.state))) return null;
  const leafStates = tis.filter((ti) => index.leaves.has(ti.taskId) && ti.state !== "removed")
    .map((ti) => ti.state);
  return leafStates.some((s) => s === "failed" || s === "upstream_failed") ? "failed" : "success";
}

function dagIndex(dag: SerializedDag): DagIndex {
  const cached = indexes.get(dag);
  if (cached) return cached;
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const order = topologicalOrder(dag.tasks, byId);
  const closures = new Map<string, Set<string>>();
  const downstreamClosure = (taskId: string): Set<string> => {
    let closure = closures.get(taskId);
    if (closure) return closure;
    closure = new Set();
    const stack = [...(byId.get(taskId)?.downstream ?? [])];
    while (stack.length) {
      const id = stack.pop()!;
      if (closure.has(id)) continue;
      closure.add(id);
      stack.push(...(byId.get(id)?.downstream ?? []));
    }
    closures.set(taskId, closure);
    return closure;
  };
  const groupRoots = new Map<string, string[]>();
  for (const group of dag.groups) {
    const members = dag.tasks.filter((t) => t.taskId.startsWith(`${group}.`));
    const inside = new Set(members.map((t) => t.taskId));
    groupRoots.set(
      group,
      members.filter((t) => !t.upstream.some((u) => inside.has(u))).map((t) => t.taskId),
    );
  }
  const index = { order, byId, downstreamClosure, groupRoots, leaves: effectiveLeaves(dag, byId) };
  indexes.set(dag, index);
  return index;
}

function topologicalOrder(
  tasks: SerializedTask[],
  byId: Map<string, SerializedTask>,
): SerializedTask[] {
  const remaining = new Map(tasks.map((t) => [t.taskId, t.upstream.length]));
  const ready = tasks.filter((t) => t.upstream.length === 0);
  const order: SerializedTask[] = [];
  for (let i = 0; i < ready.length; i++) {
    const task = ready[i];
    order.push(task);
    for (const d of task.downstream) {
      const left = remaining.get(d)! - 1;
      remaining.set(d, left);
      if (left === 0) ready.push(byId.get(d)!);
    }
  }
  return order;
}

/** Leaves for the run's state: a teardown is ignored, and so is an edge into a teardown. */
function effectiveLeaves(dag: SerializedDag, byId: Map<string, SerializedTask>): Set<string> {
  const isTeardown = (id: string) => byId.get(id)?.role === "teardown";
  const leaves = dag.tasks.filter((t) => t.role !== "teardown" && t.downstream.every(isTeardown))
    .map((t) => t.taskId);
  return new Set(
    leaves.length ? leaves : dag.tasks.filter((t) => !t.downstream.length).map((t) => t.taskId),
  );
}
