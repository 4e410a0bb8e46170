/**
 * The DAG processor between passes: it imports again only the DAG files that changed or that
 * import a changed file, nothing when nothing changed, and everything when it cannot tell.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { getDag, listImportErrors } from "../db/dags.ts";
import { DagProcessor } from "../scheduler/dag_processor.ts";
import { dagFolder, dbTest } from "./helpers.ts";

const OPTIONS = { timeoutMs: 30_000 };
const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 0, minute));

/** A DAG whose one task takes its retries from `from` (a helper module), or 0. */
const dagFile = (id: string, from?: string) => `
import { dag } from "gust";
${from ? `import { retries } from "${from}";` : "const retries = 0;"}
export default dag({ id: "${id}" }, (t) => {
  t.task("work", { retries }, () => "${id}");
});
`;

async function retriesOf(db: Db, dagId: string): Promise<number> {
  const [row] = await db.sql<{ retries: number }>`
    SELECT (v.serialized -> 'tasks' -> 0 ->> 'retries')::int AS retries
    FROM dag d JOIN dag_version v ON v.id = d.latest_version_id WHERE d.dag_id = ${dagId}`;
  return row.retries;
}

async function parsedAt(db: Db): Promise<Record<string, number>> {
  const rows = await db.sql<{ dagId: string; at: Date }>`
    SELECT dag_id AS "dagId", last_parsed_at AS at FROM dag ORDER BY dag_id`;
  return Object.fromEntries(rows.map((r) => [r.dagId, r.at.getUTCMinutes()]));
}

dbTest("a pass imports only the DAG files a change reaches", async (t, db) => {
  const folder = await dagFolder({
    "a.ts": dagFile("a", "./_retries.ts"),
    "b.ts": dagFile("b", "./lib/_shared.ts"),
    "c.ts": dagFile("c"),
    "_retries.ts": "export const retries = 1;\n",
    "lib/_shared.ts": 'export { retries } from "../_retries.ts";\nexport const unused = 1;\n',
  });
  const processor = new DagProcessor(db, folder, OPTIONS);
  const write = (path: string, text: string) => Deno.writeTextFile(`${folder}/${path}`, text);
  try {
    await t.step("the first pass imports every DAG file", async () => {
      const result = await processor.process(at(1));
      assert.deepEqual(result.imported, ["a.ts", "b.ts", "c.ts"]);
      assert.deepEqual(result.newVersions.sort(), ["a", "b", "c"]);
      assert.deepEqual([await retriesOf(db, "a"), await retriesOf(db, "b")], [1, 1]);
    });

    await t.step(
      "an unchanged or merely rewritten folder: nothing imported or written",
      async () => {
        assert.deepEqual((await processor.process(at(2))).imported, []);
        await write("c.ts", dagFile("c")); // same content, new modification time
        const result = await processor.process(at(3));
        assert.deepEqual([result.imported, result.newVersions], [[], []]);
        assert.deepEqual(await parsedAt(db), { a: 1, b: 1, c: 1 });
        assert.deepEqual(result.files.map((f) => f.file), ["a.ts", "b.ts", "c.ts"]);
      },
    );

    await t.step("a changed DAG file alone is imported", async () => {
      await write("c.ts", dagFile("c", "./_retries.ts"));
      const result = await processor.process(at(4));
      assert.deepEqual([result.imported, result.newVersions], [["c.ts"], ["c"]]);
      assert.deepEqual(await parsedAt(db), { a: 1, b: 1, c: 4 });
    });

    await t.step("a helper reaches the DAGs that import it, directly or not", async () => {
      await write("_retries.ts", "export const retries = 5;\n");
      const result = await processor.process(at(5));
      assert.deepEqual(result.imported, ["a.ts", "b.ts", "c.ts"]);
      assert.deepEqual(result.newVersions.sort(), ["a", "b", "c"]);
      assert.deepEqual([await retriesOf(db, "a"), await retriesOf(db, "b")], [5, 5]);
    });

    await t.step("a module only one DAG reaches re-imports that DAG only", async () => {
      await write("lib/_shared.ts", 'export { retries } from "../_retries.ts";\n');
      const result = await processor.process(at(6));
      assert.deepEqual([result.imported, result.newVersions], [["b.ts"], []]);
      assert.deepEqual(await parsedAt(db), { a: 5, b: 6, c: 5 });
    });

    await t.step("a new file is imported; a deleted one deactivates its DAG", async () => {
      await write("d.ts", dagFile("d"));
      await Deno.remove(`${folder}/c.ts`);
      const result = await processor.process(at(7));
      assert.deepEqual([result.imported, result.newVersions], [["d.ts"], ["d"]]);
      assert.equal((await getDag(db.sql, "c"))?.isActive, false);
      assert.equal((await getDag(db.sql, "d"))?.isActive, true);
    });

    await t.step("pinned copies of versions, written by workers, change nothing", async () => {
      await write(".gust-0123456789ab-a.ts", dagFile("a", "./_retries.ts"));
      assert.deepEqual((await processor.process(at(8))).imported, []);
    });

    await t.step("a file no DAG imports could matter to any: all are imported", async () => {
      await write("notes.md", "# what these DAGs do\n");
      assert.deepEqual((await processor.process(at(9))).imported, ["a.ts", "b.ts", "d.ts"]);
    });

    await t.step("a full pass imports every file, changed or not", async () => {
      const result = await processor.process(at(10), { full: true });
      assert.deepEqual([result.imported, result.newVersions], [["a.ts", "b.ts", "d.ts"], []]);
      assert.deepEqual(await parsedAt(db), { a: 10, b: 10, c: 5, d: 10 });
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

dbTest("a DAG file that reads a file is imported again when it changes", async (_t, db) => {
  const folder = await dagFolder({
    // Reads the data at import time: no import names it.
    "reads.ts": `
import { dag } from "gust";
const { retries } = JSON.parse(Deno.readTextFileSync(new URL("./_data.json", import.meta.url)));
export default dag({ id: "reads" }, (t) => { t.task("work", { retries }, () => 1); });
`,
    // Imports the same data.
    "imports.ts": `
import { dag } from "gust";
import data from "./_data.json" with { type: "json" };
export default dag({ id: "imports" }, (t) => { t.task("work", { retries: data.retries }, () => 1); });
`,
    "other.ts": dagFile("other"),
    "_data.json": '{ "retries": 2 }',
  });
  try {
    const processor = new DagProcessor(db, folder, OPTIONS);
    await processor.process(at(1));
    assert.deepEqual([await retriesOf(db, "reads"), await retriesOf(db, "imports")], [2, 2]);
    await Deno.writeTextFile(`${folder}/_data.json`, '{ "retries": 3 }');
    const result = await processor.process(at(2));
    assert.deepEqual(result.imported, ["imports.ts", "reads.ts"]);
    assert.deepEqual([await retriesOf(db, "reads"), await retriesOf(db, "imports")], [3, 3]);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

dbTest("errors and duplicate DAG ids follow changes to other files", async (t, db) => {
  const folder = await dagFolder({
    "dup_a.ts": dagFile("shared"),
    "dup_b.ts": dagFile("shared"),
    "broken.ts": `throw new Error("not yet");`,
  });
  const errors = async () =>
    Object.fromEntries((await listImportErrors(db.sql)).map((e) => [e.filename, e.message]));
  try {
    const processor = new DagProcessor(db, folder, OPTIONS);
    await processor.process(at(1));

    await t.step("an unchanged failing file keeps its error and is not imported", async () => {
      await Deno.writeTextFile(`${folder}/other.ts`, dagFile("other"));
      const result = await processor.process(at(2));
      assert.deepEqual(result.imported, ["other.ts"]);
      assert.deepEqual(await errors(), {
        "broken.ts": "not yet",
        "dup_b.ts": 'DAG "shared" is defined twice (in dup_a.ts and dup_b.ts)',
      });
      assert.equal((await listImportErrors(db.sql))[0].createdAt.getUTCMinutes(), 1);
    });

    await t.step("deleting the first definition hands the DAG to the second", async () => {
      await Deno.remove(`${folder}/dup_a.ts`);
      const result = await processor.process(at(3));
      assert.deepEqual(result.imported, []);
      assert.deepEqual(await errors(), { "broken.ts": "not yet" });
      const shared = await getDag(db.sql, "shared");
      assert.deepEqual([shared?.fileloc, shared?.isActive], ["dup_b.ts", true]);
    });

    await t.step("fixing the failing file clears its error", async () => {
      await Deno.writeTextFile(`${folder}/broken.ts`, dagFile("fixed"));
      const result = await processor.process(at(4));
      assert.deepEqual([result.imported, result.newVersions], [["broken.ts"], ["fixed"]]);
      assert.deepEqual(await errors(), {});
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

dbTest(
  "a file whose import failed is imported again on a retry, though nothing changed",
  async (t, db) => {
    // Fails until a moment in the near future, as an import fails while something outside the
    // folder is missing (a registry out of reach, a busy machine's timeout); the folder stays as is.
    const ready = Date.now() + 1500;
    const folder = await dagFolder({
      "later.ts": `
import { dag } from "gust";
if (Date.now() < ${ready}) throw new Error("not reachable yet");
export default dag({ id: "later" }, (t) => { t.task("work", () => 1); });
`,
      "fine.ts": dagFile("fine"),
    });
    try {
      const processor = new DagProcessor(db, folder, OPTIONS);
      await processor.process(at(1));
      assert.equal(await getDag(db.sql, "later"), null);
      assert.match((await listImportErrors(db.sql))[0]?.message ?? "", /not reachable yet/);
      await new Promise((r) => setTimeout(r, ready - Date.now() + 50));

      await t.step("a pass that finds no change imports nothing", async () => {
        assert.deepEqual((await processor.process(at(2))).imported, []);
      });

      await t.step("a retry imports the failed file alone, and its DAG is stored", async () => {
        const result = await processor.process(at(3), { retryFailed: true });
        assert.deepEqual([result.imported, result.newVersions], [["later.ts"], ["later"]]);
        assert.ok(await getDag(db.sql, "later"));
        assert.equal((await listImportErrors(db.sql)).length, 0);
      });

      await t.step("with no failed file, a retry imports nothing", async () => {
        assert.deepEqual((await processor.process(at(4), { retryFailed: true })).imported, []);
      });
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
);
