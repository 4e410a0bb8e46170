/**
 * Lays a DAG out left to right for the graph view, on the server: each task in the layer of its
 * longest path from a root, tasks within a layer ordered to shorten edges (a few barycenter
 * sweeps, as Sugiyama-style layouts do), a task group's tasks kept next to each other within a
 * layer and boxed. Linear in the DAG's size apart from the sorts, and cached per DAG version.
 *
 * Options weighed: a client-side library (dagre, ELK) would need a build step or a second
 * framework; a full crossing-minimization pass is not worth it at the sizes DAGs have. Group
 * boxes are bounding boxes, so in a DAG whose groups interleave across layers a box can cover a
 * task of another group; the grid and run page list groups exactly.
 */
import type { SerializedDag } from "../sdk/serialize.ts";
import { topologicalOrder } from "./task_order.ts";

export const NODE_W = 180;
export const NODE_H = 32;
const GAP_X = 56;
const GAP_Y = 12;
const GROUP_GAP = 26;
const PAD = 24;

export interface LaidNode {
  id: string;
  label: string;
  x: number;
  y: number;
  layer: number;
}

export interface LaidEdge {
  from: string;
  to: string;
  path: string;
}

export interface LaidGroup {
  id: string;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphLayout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  groups: LaidGroup[];
  width: number;
  height: number;
}

const cache = new WeakMap<SerializedDag, GraphLayout>();

export function layoutGraph(dag: SerializedDag): GraphLayout {
  let layout = cache.get(dag);
  if (!layout) {
    layout = compute(dag);
    cache.set(dag, layout);
  }
  return layout;
}

/** The chain of groups a task is in, outermost first. */
function groupChain(group: string | null, groups: Set<string>): string[] {
  const chain: string[] = [];
  for (let g = group; g && groups.has(g);) {
    chain.unshift(g);
    const dot = g.lastIndexOf(".");
    g = dot < 0 ? null : g.slice(0, dot);
  }
  return chain;
}

function compute(dag: SerializedDag): GraphLayout {
  const order = topologicalOrder(dag);
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const groups = new Set(dag.groups);
  const chains = new Map(dag.tasks.map((t) => [t.taskId, groupChain(t.group, groups)]));

  const layerOf = new Map<string, number>();
  for (const id of order) {
    const ups = byId.get(id)!.upstream.filter((u) => layerOf.has(u));
    layerOf.set(id, ups.length ? Math.max(...ups.map((u) => layerOf.get(u)! + 1)) : 0);
  }
  const layers: string[][] = [];
  for (const id of order) (layers[layerOf.get(id)!] ??= []).push(id);

  // Positions within layers: start in declaration order, then sweep down and up, each node
  // moving towards the mean position of its neighbours in the layers already placed.
  const pos = new Map<string, number>();
  layers.forEach((layer) => layer.forEach((id, i) => pos.set(id, i)));
  const sortLayer = (layer: string[], neighbours: (id: string) => string[]) => {
    const key = new Map<string, number>();
    for (const id of layer) {
      const ns = neighbours(id).filter((n) => pos.has(n));
      key.set(id, ns.length ? ns.reduce((s, n) => s + pos.get(n)!, 0) / ns.length : pos.get(id)!);
    }
    // Tasks of one group move together: they sort by their group's mean, then by their own.
    const groupKey = new Map<string, number>();
    const outer = (id: string) => chains.get(id)![0] ?? null;
    for (const g of new Set(layer.map(outer))) {
      if (g === null) continue;
      const members = layer.filter((id) => outer(id) === g);
      groupKey.set(g, members.reduce((s, id) => s + key.get(id)!, 0) / members.length);
    }
    const k = (id: string) => {
      const g = outer(id);
      return g === null ? key.get(id)! : groupKey.get(g)!;
    };
    layer.sort((a, b) =>
      k(a) - k(b) || (chains.get(a)!.join("/") < chains.get(b)!.join("/") ? -1 : 1) ||
      key.get(a)! - key.get(b)!
    );
    layer.forEach((id, i) => pos.set(id, i));
  };
  for (let sweep = 0; sweep < 3; sweep++) {
    for (let i = 1; i < layers.length; i++) sortLayer(layers[i], (id) => byId.get(id)!.upstream);
    for (let i = layers.length - 2; i >= 0; i--) {
      sortLayer(layers[i], (id) => byId.get(id)!.downstream);
    }
  }

  // Coordinates: layers are columns; a change of group within a column leaves room for the boxes.
  const heights = layers.map((layer) => columnHeight(layer, chains));
  const tallest = Math.max(0, ...heights);
  const nodes: LaidNode[] = [];
  layers.forEach((layer, li) => {
    let y = PAD + (tallest - heights[li]) / 2;
    layer.forEach((id, i) => {
      if (i > 0) y += NODE_H + gapBetween(chains.get(layer[i - 1])!, chains.get(id)!);
      else y += chains.get(id)!.length * (GROUP_GAP / 2);
      const chain = chains.get(id)!;
      const group = chain[chain.length - 1];
      nodes.push({
        id,
        label: group && id.startsWith(`${group}.`) ? id.slice(group.length + 1) : id,
        x: PAD + li * (NODE_W + GAP_X),
        y,
        layer: li,
      });
    });
  });
  const at = new Map(nodes.map((n) => [n.id, n]));
  const edges: LaidEdge[] = [];
  for (const t of dag.tasks) {
    for (const d of t.downstream) {
      const a = at.get(t.taskId);
      const b = at.get(d);
      if (!a || !b) continue;
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x - 2, y2 = b.y + NODE_H / 2;
      const dx = Math.max(24, (x2 - x1) / 2);
      edges.push({
        from: t.taskId,
        to: d,
        path: `M${x1} ${y1} C${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`,
      });
    }
  }
  const laidGroups = boxGroups(dag.groups, nodes, chains);
  const width = PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X;
  return { nodes, edges, groups: laidGroups, width, height: tallest + PAD * 2 };
}

function gapBetween(a: string[], b: string[]): number {
  let shared = 0;
  while (shared < a.length && shared < b.length && a[shared] === b[shared]) shared++;
  const changed = a.length - shared + (b.length - shared);
  return changed ? GAP_Y + GROUP_GAP * Math.max(a.length - shared, b.length - shared) : GAP_Y;
}

function columnHeight(layer: string[], chains: Map<string, string[]>): number {
  let h = 0;
  layer.forEach((id, i) => {
    h += NODE_H;
    if (i > 0) h += gapBetween(chains.get(layer[i - 1])!, chains.get(id)!);
  });
  const first = chains.get(layer[0])?.length ?? 0;
  const last = chains.get(layer[layer.length - 1])?.length ?? 0;
  return h + (first + last) * (GROUP_GAP / 2);
}

/** Each group's box encloses its tasks, nested groups' boxes inside their parents'. */
function boxGroups(
  groupIds: string[],
  nodes: LaidNode[],
  chains: Map<string, string[]>,
): LaidGroup[] {
  const boxes: LaidGroup[] = [];
  for (const g of groupIds) {
    const members = nodes.filter((n) => chains.get(n.id)!.includes(g));
    if (members.length === 0) continue;
    const depthBelow = Math.max(
      ...members.map((n) => {
        const chain = chains.get(n.id)!;
        return chain.length - 1 - chain.indexOf(g);
      }),
    );
    const pad = 6 + depthBelow * 6;
    const top = 16 + depthBelow * 10;
    const x = Math.min(...members.map((n) => n.x)) - pad;
    const y = Math.min(...members.map((n) => n.y)) - top;
    const right = Math.max(...members.map((n) => n.x + NODE_W)) + pad;
    const bottom = Math.max(...members.map((n) => n.y + NODE_H)) + pad;
    const parent = g.lastIndexOf(".") >= 0 ? g.slice(0, g.lastIndexOf(".")) : "";
    boxes.push({
      id: g,
      label: parent && groupIds.includes(parent) ? g.slice(parent.length + 1) : g,
      x,
      y,
      width: right - x,
      height: bottom - y,
    });
  }
  return boxes;
}
