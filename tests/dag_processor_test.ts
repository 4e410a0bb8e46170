import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { getDag, listDags, listImportErrors } from "../db/dags.ts";
import { processDagFolder } from "../scheduler/dag_processor.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { dagFolder, dbTest } from "./helpers.ts";

const NOW = new Date("2025-03-01T12:00:00Z");
// Short, for the file that never finishes importing; the limit includes the runner's start.
const SHORT = { timeoutMs: 3_000, now: NOW };
// For folders without such a file: generous, so a busy machine cannot fail a good file.
const OPTIONS = { timeoutMs: 30_000, now: NOW };

const simpleDag = (id: string, tasks = ["a"]) => `
import { dag } from "gust";
export default dag({ id: "${id}" }, (t) => {
${tasks.map((task) => `  t.task("${task}", () => "${task}");`).join("\n")}
});
`;

async function versions(db: Db, dagId: string) {
  return await db.sql<{ id: number; versionNumber: number; serialized: SerializedDag }>`
    SELECT id, version_number AS "versionNumber", serialized FROM dag_version
    WHERE dag_id = ${dagId} ORDER BY version_number`;
}

async function importErrors(db: Db): Promise<Record<string, string>> {
  return Object.fromEntries((await listImportErrors(db.sql)).map((e) => [e.filename, e.message]));
}

dbTest("each bad DAG file becomes an import error naming its file and cause", async (t, db) => {
  const outside = await Deno.makeTempFile({ prefix: "gust_outside_" });
  await Deno.writeTextFile(outside, "secret");
  const hits: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      hits.push(request.url);
      return new Response("ok");
    },
  );
  const folder = await dagFolder({
    // The good file exports its DAG under two names and imports a helper beside it.
    "good.ts": `
      import { dag } from "gust";
      import { retries } from "./_shared.ts";
      const good = dag({ id: "good", schedule: "@daily", startDate: "2025-01-01" }, (t) => {
        const a = t.task("extract", { retries }, () => [1, 2]);
        t.task("load", { inputs: { rows: a } }, (_ctx, { rows }) => rows.length);
      });
      export default good;
      export { good };
    `,
    "_shared.ts": `export const retries = 2;`,
    "throws.ts": `throw new Error("boom at import");`,
    "syntax.ts": `import { dag } from "gust";\nexport const = dag(;`,
    "loops.ts": `while (true) {}`,
    "network.ts": `await fetch("http://127.0.0.1:${server.addr.port}/");`,
    "reads_outside.ts": `Deno.readTextFileSync(${JSON.stringify(outside)});`,
    "reads_env.ts": `Deno.env.get("HOME");`,
    "cycle.ts": `
      import { dag } from "gust";
      export default dag({ id: "cyclic" }, (t) => {
        t.task("a", { dependsOn: ["b"] }, () => 1);
        t.task("b", { dependsOn: ["a"] }, () => 1);
      });
    `,
    "bad_options.ts": `
      import { dag } from "gust";
      export default dag({ id: "typo" }, (t) => {
        t.task("a", { retires: 3, triggerRule: "all_sucess" }, () => 1);
      });
    `,
    "dup_a.ts": simpleDag("shared"),
    "dup_b.ts": simpleDag("shared", ["b"]),
    // A timer that throws after the file was imported must not be blamed on the next file.
    "timer_a.ts": `
      import { dag } from "gust";
      setTimeout(() => { throw new Error("late failure"); }, 50);
      export default dag({ id: "timer_a" }, (t) => { t.task("a", () => 1); });
    `,
    "timer_b.ts": `
      import { dag } from "gust";
      await new Promise((resolve) => setTimeout(resolve, 300));
      export default dag({ id: "timer_b" }, (t) => { t.task("a", () => 1); });
    `,
    "sub/nested.ts": simpleDag("nested"),
    "no_dags.ts": `export const answer = 42;`,
    // Never imported: helpers, hidden files, private folders and tests.
    "_helper.ts": `throw new Error("_helper.ts was imported");`,
    ".hidden.ts": `throw new Error(".hidden.ts was imported");`,
    "_private/dag.ts": `throw new Error("_private/dag.ts was imported");`,
    "good_test.ts": `throw new Error("good_test.ts was imported");`,
    "notes.md": `not code`,
  });
  try {
    const started = performance.now();
    const result = await processDagFolder(db, folder, SHORT);
    const elapsed = performance.now() - started;

    await t.step("every bad file has one import error with its cause", async () => {
      const errors = await importErrors(db);
      assert.deepEqual(Object.keys(errors).sort(), [
        "bad_options.ts",
        "cycle.ts",
        "dup_b.ts",
        "loops.ts",
        "network.ts",
        "reads_env.ts",
        "reads_outside.ts",
        "syntax.ts",
        "throws.ts",
      ]);
      assert.match(errors["throws.ts"], /boom at import/);
      assert.match(errors["syntax.ts"], /syntax\.ts/);
      assert.match(
        errors["loops.ts"],
        /^Importing loops\.ts took longer than 3 s; it was stopped$/,
      );
      assert.match(errors["network.ts"], /Requires net access to "127\.0\.0\.1:\d+"/);
      assert.match(errors["reads_outside.ts"], /Requires read access to ".*gust_outside_/);
      assert.match(errors["reads_env.ts"], /Requires env access to "HOME"/);
      assert.match(errors["cycle.ts"], /DAG "cyclic" is invalid: cycle: (a -> b -> a|b -> a -> b)/);
      assert.match(errors["bad_options.ts"], /DAG "typo" is invalid: task "a": .*retires/);
      assert.match(errors["bad_options.ts"], /triggerRule/);
      assert.equal(errors["dup_b.ts"], `DAG "shared" is defined twice (in dup_a.ts and dup_b.ts)`);
      const [row] = await listImportErrors(db.sql);
      assert.equal(row.createdAt.getTime(), NOW.getTime());
    });

    await t.step("the sandbox let nothing out and the time limit held", () => {
      assert.deepEqual(hits, [], "the network file must not reach the server");
      // loops.ts alone takes the 3 s limit; the rest are parsed around it.
      assert.ok(elapsed < 30_000, `processing took ${Math.round(elapsed)} ms`);
    });

    await t.step("the good DAGs are stored, once each, by the file that defines them", async () => {
      const dags = await listDags(db.sql);
      assert.deepEqual(
        dags.map((d) => [d.dagId, d.fileloc]),
        [
          ["good", "good.ts"],
          ["nested", "sub/nested.ts"],
          ["shared", "dup_a.ts"],
          ["timer_a", "timer_a.ts"],
          ["timer_b", "timer_b.ts"],
        ],
      );
      assert.deepEqual(result.newVersions.sort(), [
        "good",
        "nested",
        "shared",
        "timer_a",
        "timer_b",
      ]);
      const [v] = await versions(db, "good");
      assert.equal(v.versionNumber, 1);
      assert.equal((await getDag(db.sql, "good"))?.latestVersionId, v.id);
      assert.deepEqual(v.serialized.tasks.map((task) => [task.taskId, task.retries]), [
        ["extract", 2],
        ["load", 0],
      ]);
      assert.deepEqual((await versions(db, "shared"))[0].serialized.tasks.map((x) => x.taskId), [
        "a",
      ]);
    });

    await t.step("files starting with _ or ., test files and other files are skipped", () => {
      const parsed = result.files.map((f) => f.file);
      for (const skipped of ["_helper.ts", ".hidden.ts", "_private/dag.ts", "good_test.ts"]) {
        assert.ok(!parsed.includes(skipped), `${skipped} was parsed`);
      }
      assert.ok(!parsed.includes("notes.md"));
      const noDags = result.files.find((f) => f.file === "no_dags.ts");
      assert.deepEqual([noDags?.dags, noDags?.error], [[], null]);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(folder, { recursive: true });
    await Deno.remove(outside);
  }
});

dbTest("DAG versions and import errors follow the files as they change", async (t, db) => {
  const folder = await dagFolder({
    "etl.ts": simpleDag("etl", ["extract", "load"]),
    "other.ts": simpleDag("other"),
    "broken.ts": `throw new Error("not yet");`,
  });
  const process = () => processDagFolder(db, folder, OPTIONS);
  try {
    let firstVersionId = 0;
    await t.step("the first pass stores version 1 of each DAG", async () => {
      const result = await process();
      assert.deepEqual(result.newVersions.sort(), ["etl", "other"]);
      const [v1] = await versions(db, "etl");
      firstVersionId = v1.id;
      assert.equal(v1.versionNumber, 1);
      assert.equal((await getDag(db.sql, "etl"))?.latestVersionId, v1.id);
      assert.deepEqual(await importErrors(db), { "broken.ts": "not yet" });
    });

    await t.step("re-processing an unchanged folder makes no new version", async () => {
      const result = await process();
      assert.deepEqual(result.newVersions, []);
      assert.deepEqual((await versions(db, "etl")).map((v) => v.id), [firstVersionId]);
      assert.equal((await versions(db, "other")).length, 1);
      assert.equal((await getDag(db.sql, "etl"))?.latestVersionId, firstVersionId);
      assert.deepEqual(await importErrors(db), { "broken.ts": "not yet" });
    });

    await t.step("a changed file makes version 2, which becomes the latest", async () => {
      await Deno.writeTextFile(`${folder}/etl.ts`, simpleDag("etl", ["extract", "clean", "load"]));
      const result = await process();
      assert.deepEqual(result.newVersions, ["etl"]);
      const all = await versions(db, "etl");
      assert.deepEqual(all.map((v) => v.versionNumber), [1, 2]);
      assert.equal(all[0].id, firstVersionId);
      assert.equal((await getDag(db.sql, "etl"))?.latestVersionId, all[1].id);
      assert.deepEqual(all[1].serialized.tasks.map((task) => task.taskId), [
        "extract",
        "clean",
        "load",
      ]);
      assert.equal((await versions(db, "other")).length, 1);
    });

    await t.step("fixing a bad file clears its import error", async () => {
      await Deno.writeTextFile(`${folder}/broken.ts`, simpleDag("fixed"));
      const result = await process();
      assert.deepEqual(result.newVersions, ["fixed"]);
      assert.deepEqual(await importErrors(db), {});
      assert.equal((await getDag(db.sql, "fixed"))?.isActive, true);
    });

    let otherVersion: number | null = null;
    await t.step("a file that starts failing keeps its DAG active", async () => {
      otherVersion = (await getDag(db.sql, "other"))!.latestVersionId;
      await Deno.writeTextFile(`${folder}/other.ts`, `throw new Error("typo in production");`);
      await process();
      assert.deepEqual(await importErrors(db), { "other.ts": "typo in production" });
      const other = await getDag(db.sql, "other");
      assert.equal(other?.isActive, true);
      assert.equal(other?.latestVersionId, otherVersion);
      assert.deepEqual((await listDags(db.sql)).map((d) => d.dagId), ["etl", "fixed", "other"]);
    });

    await t.step("deleting a DAG file deactivates its DAG and clears its error", async () => {
      await Deno.remove(`${folder}/other.ts`);
      await process();
      assert.equal((await getDag(db.sql, "other"))?.isActive, false);
      assert.deepEqual(await importErrors(db), {});
      assert.deepEqual((await listDags(db.sql)).map((d) => d.dagId), ["etl", "fixed"]);
      // Its history stays.
      assert.equal((await versions(db, "other")).length, 1);
    });

    await t.step("restoring the file reactivates the DAG without a new version", async () => {
      await Deno.writeTextFile(`${folder}/other.ts`, simpleDag("other"));
      const result = await process();
      assert.deepEqual(result.newVersions, []);
      const other = await getDag(db.sql, "other");
      assert.deepEqual([other?.isActive, other?.latestVersionId], [true, otherVersion]);
    });

    await t.step("a DAG removed from a file that still parses is deactivated", async () => {
      await Deno.writeTextFile(`${folder}/broken.ts`, simpleDag("renamed"));
      await process();
      assert.equal((await getDag(db.sql, "fixed"))?.isActive, false);
      assert.equal((await getDag(db.sql, "renamed"))?.isActive, true);
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
