/**
 * Turns the builder's edges into each task's upstream set, then checks the graph as a whole.
 * Groups are resolved last because a group's roots and leaves depend on the edges inside it.
 */
import type { TaskDef } from "./dag.ts";
import type { Upstream } from "./types.ts";

export interface GraphInput {
  tasks: Map<string, TaskDef>;
  /** Group id to the ids of every task inside it, nested groups included. */
  groups: Map<string, string[]>;
  edges: { from: Upstream; to: Upstream }[];
  problems: string[];
}

const refId = (ref: Upstream) => (typeof ref === "string" ? ref : ref.id);
const isGroup = (graph: GraphInput, ref: Upstream) =>
  (typeof ref !== "string" && ref.kind === "group") ||
  (typeof ref === "string" && !graph.tasks.has(ref) && graph.groups.has(ref));

export function finalizeGraph(graph: GraphInput): void {
  const { tasks, problems } = graph;
  const depth = (id: string) => id.split(".").length;
  const taskEdges = graph.edges.filter((e) => !isGroup(graph, e.from) && !isGroup(graph, e.to));
  // Deepest groups first, so an outer group sees the edges between its inner groups.
  const groupEdges = graph.edges.filter((e) => isGroup(graph, e.from) || isGroup(graph, e.to))
    .sort((a, b) =>
      Math.max(depth(refId(b.from)), depth(refId(b.to))) -
      Math.max(depth(refId(a.from)), depth(refId(a.to)))
    );

  const link = (from: string, to: string) => {
    const target = tasks.get(to);
    if (!tasks.has(from)) {
      problems.push(`task "${to}" depends on unknown task "${from}"`);
    } else if (!target) {
      problems.push(`unknown task "${to}" in a dependency on "${from}"`);
    } else if (from === to) {
      problems.push(`task "${to}" depends on itself`);
    } else {
      target.upstream.add(from);
    }
  };
  for (const edge of taskEdges) link(refId(edge.from), refId(edge.to));
  for (const edge of groupEdges) {
    for (const from of resolve(graph, edge.from, "leaves")) {
      for (const to of resolve(graph, edge.to, "roots")) link(from, to);
    }
  }

  for (const task of tasks.values()) {
    for (const setup of task.setups) {
      if (tasks.get(setup)?.role !== "setup") {
        problems.push(`teardown "${task.id}" names "${setup}", which is not a setup task`);
      }
    }
    if (task.expand && task.kind !== "task") {
      problems.push(`task "${task.id}": a ${task.kind.replace("_", "-")} task cannot be mapped`);
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) problems.push(`cycle: ${cycle.join(" -> ")}`);
}

/** A group as an upstream stands for its leaves; as a downstream, for its roots. */
function resolve(graph: GraphInput, ref: Upstream, end: "roots" | "leaves"): string[] {
  const id = refId(ref);
  const members = graph.groups.get(id);
  if (!members) return [id];
  if (members.length === 0) {
    graph.problems.push(`group "${id}" is empty`);
    return [];
  }
  const inside = new Set(members);
  if (end === "roots") {
    return members.filter((m) => ![...graph.tasks.get(m)!.upstream].some((u) => inside.has(u)));
  }
  const hasDownstreamInside = new Set<string>();
  for (const m of members) {
    for (const u of graph.tasks.get(m)!.upstream) if (inside.has(u)) hasDownstreamInside.add(u);
  }
  return members.filter((m) => !hasDownstreamInside.has(m));
}

/** Returns one cycle as a list of task ids (first id repeated at the end), or null. */
export function findCycle(tasks: Map<string, { upstream: Set<string> }>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    const s = state.get(id);
    if (s === "done") return null;
    if (s === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const up of tasks.get(id)?.upstream ?? []) {
      const found = visit(up);
      if (found) return found;
    }
    stack.pop();
    state.set(id, "done");
    return null;
  };
  for (const id of tasks.keys()) {
    const found = visit(id);
    if (found) return found.reverse();
  }
  return null;
}
