import assert from "node:assert/strict";
import { affectedDagFiles, type FolderScan, localImports } from "./dag_folder_scan.ts";

Deno.test("static imports of the folder's files are found in every form", () => {
  const text = `
import { dag } from "gust";
import { z } from "npm:zod";
import a from "./a.ts";
import type { B } from './types/b.ts';
import {
  c1,
  c2 as c,
} from "../c.ts";
import * as d from "./lib/../d.ts?v=1";
import "./side_effect.ts";
export { e } from "./e.ts";
export * from "./f.ts";
import data from "./data.json" with { type: "json" };
const lazy = await import("./lazy.ts");
const outside = await import("../../outside.ts");
`;
  assert.deepEqual(localImports("sub/dag.ts", text).sort(), [
    "c.ts",
    "sub/a.ts",
    "sub/d.ts",
    "sub/data.json",
    "sub/e.ts",
    "sub/f.ts",
    "sub/lazy.ts",
    "sub/side_effect.ts",
    "sub/types/b.ts",
  ]);
});

Deno.test("a change no static import explains re-imports every DAG file", () => {
  const file = (imports: string[], opaque = false) => ({
    mtimeMs: 0,
    size: 0,
    hash: "",
    imports,
    opaque,
  });
  const scan: FolderScan = new Map([
    ["a.ts", file(["_h.ts"])],
    ["b.ts", file([], true)],
    ["c.ts", file([])],
    ["_h.ts", file([])],
  ]);
  const dags = ["a.ts", "b.ts", "c.ts"];
  assert.deepEqual(affectedDagFiles(scan, dags, new Set(["c.ts"])), ["c.ts"]);
  // b.ts reads files by other means, so a helper's change reaches it too.
  assert.deepEqual(affectedDagFiles(scan, dags, new Set(["_h.ts"])), ["a.ts", "b.ts"]);
  assert.deepEqual(affectedDagFiles(scan, dags, new Set(["gone.ts"])), []);
  assert.deepEqual(affectedDagFiles(scan, dags, new Set(["_data.csv"])), dags);
});
