import assert from "node:assert/strict";
import { fakeDag, linked, task } from "../tests/ui_helpers.ts";
import { layoutGraph, NODE_H, NODE_W } from "./graph_layout.ts";
import { taskRows } from "./task_order.ts";

const DAG = fakeDag("shape", {
  groups: ["g", "g.inner"],
  tasks: linked([
    task("start"),
    task("g.a", { group: "g" }),
    task("g.inner.b", { group: "g.inner" }),
    task("side"),
    task("end"),
  ], [["start", "g.a"], ["g.a", "g.inner.b"], ["start", "side"], ["g.inner.b", "end"], [
    "side",
    "end",
  ]]),
});

Deno.test("each task sits in the layer of its longest path from a root", () => {
  const layout = layoutGraph(DAG);
  const layer = Object.fromEntries(layout.nodes.map((n) => [n.id, n.layer]));
  assert.deepEqual(layer, { start: 0, "g.a": 1, side: 1, "g.inner.b": 2, end: 3 });
  assert.equal(layout.edges.length, 5);
  for (const n of layout.nodes) {
    assert.ok(n.x + NODE_W <= layout.width && n.y + NODE_H <= layout.height, `${n.id} inside`);
  }
});

Deno.test("nodes do not overlap and each group's box holds its tasks, nested in its parent", () => {
  const layout = layoutGraph(DAG);
  const nodes = layout.nodes;
  for (const a of nodes) {
    for (const b of nodes) {
      if (a === b || a.layer !== b.layer) continue;
      assert.ok(Math.abs(a.y - b.y) >= NODE_H, `${a.id} and ${b.id} overlap`);
    }
  }
  const box = (id: string) => layout.groups.find((g) => g.id === id)!;
  const inside = (n: { x: number; y: number }, g: ReturnType<typeof box>) =>
    n.x >= g.x && n.y >= g.y && n.x + NODE_W <= g.x + g.width && n.y + NODE_H <= g.y + g.height;
  const at = (id: string) => nodes.find((n) => n.id === id)!;
  assert.ok(inside(at("g.a"), box("g")) && inside(at("g.inner.b"), box("g")));
  assert.ok(inside(at("g.inner.b"), box("g.inner")));
  assert.ok(!inside(at("side"), box("g")), "a task outside the group is outside its box");
  assert.equal(box("g.inner").label, "inner");
  assert.equal(at("g.inner.b").label, "b");
});

Deno.test("rows list upstream first, a group's tasks together under it", () => {
  const rows = taskRows(DAG).map((r) =>
    `${"  ".repeat(r.depth)}${r.kind === "group" ? "+" : ""}${r.label}`
  );
  assert.deepEqual(rows, ["start", "+g", "  a", "  +inner", "    b", "side", "end"]);
});
