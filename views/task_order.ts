/**
 * The order in which the grid, the run page and the Gantt chart list a DAG's tasks: upstream
 * before downstream, and each task group's tasks together under the group's name, placed where
 * the group's first task would come. Computed once per DAG version (versions never change).
 */
import type { SerializedDag } from "../sdk/serialize.ts";

export type TaskRow =
  | { kind: "group"; id: string; label: string; depth: number; members: string[] }
  | { kind: "task"; id: string; label: string; depth: number };

const cache = new WeakMap<SerializedDag, TaskRow[]>();

export function taskRows(dag: SerializedDag): TaskRow[] {
  let rows = cache.get(dag);
  if (!rows) {
    rows = computeRows(dag);
    cache.set(dag, rows);
  }
  return rows;
}

/** Kahn's algorithm; ties keep the order the DAG file declared the tasks in. */
export function topologicalOrder(dag: SerializedDag): string[] {
  const indegree = new Map(dag.tasks.map((t) => [t.taskId, 0]));
  for (const t of dag.tasks) {
    for (const d of t.downstream) indegree.set(d, (indegree.get(d) ?? 0) + 1);
  }
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const position = new Map(dag.tasks.map((t, i) => [t.taskId, i]));
  let ready = dag.tasks.filter((t) => indegree.get(t.taskId) === 0).map((t) => t.taskId);
  const order: string[] = [];
  while (ready.length) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const next: string[] = [];
    for (const id of ready) {
      order.push(id);
      for (const d of byId.get(id)?.downstream ?? []) {
        const left = indegree.get(d)! - 1;
        indegree.set(d, left);
        if (left === 0) next.push(d);
      }
    }
    ready = next;
  }
  // A cycle cannot be stored, but a hand-written row could hold one: list what is left at the end.
  const seen = new Set(order);
  for (const t of dag.tasks) if (!seen.has(t.taskId)) order.push(t.taskId);
  return order;
}

interface Node {
  id: string;
  kind: "group" | "task";
  first: number;
  children: Node[];
}

function parentGroup(id: string, groups: Set<string>): string | null {
  const dot = id.lastIndexOf(".");
  if (dot < 0) return null;
  const parent = id.slice(0, dot);
  return groups.has(parent) ? parent : null;
}

function computeRows(dag: SerializedDag): TaskRow[] {
  const order = topologicalOrder(dag);
  const rank = new Map(order.map((id, i) => [id, i]));
  const groups = new Set(dag.groups);
  const groupNodes = new Map<string, Node>();
  const root: Node = { id: "", kind: "group", first: 0, children: [] };
  const groupNode = (id: string): Node => {
    let node = groupNodes.get(id);
    if (!node) {
      node = { id, kind: "group", first: Infinity, children: [] };
      groupNodes.set(id, node);
      const parent = parentGroup(id, groups);
      (parent ? groupNode(parent) : root).children.push(node);
    }
    return node;
  };
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  for (const id of order) {
    const task = byId.get(id)!;
    const r = rank.get(id)!;
    const holder = task.group && groups.has(task.group) ? groupNode(task.group) : root;
    holder.children.push({ id, kind: "task", first: r, children: [] });
    for (let g: string | null = task.group; g && groups.has(g); g = parentGroup(g, groups)) {
      const node = groupNode(g);
      node.first = Math.min(node.first, r);
    }
  }
  const rows: TaskRow[] = [];
  const walk = (node: Node, depth: number, prefix: string) => {
    node.children.sort((a, b) => a.first - b.first);
    for (const child of node.children) {
      const label = prefix && child.id.startsWith(`${prefix}.`)
        ? child.id.slice(prefix.length + 1)
        : child.id;
      if (child.kind === "task") {
        rows.push({ kind: "task", id: child.id, label, depth });
      } else {
        const members: string[] = [];
        const collect = (n: Node) =>
          n.children.forEach((c) => c.kind === "task" ? members.push(c.id) : collect(c));
        collect(child);
        rows.push({ kind: "group", id: child.id, label, depth, members });
        walk(child, depth + 1, child.id);
      }
    }
  };
  walk(root, 0, "");
  return rows;
}
