import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { json, pgliteDb } from "./client.ts";
import { PgliteStatements } from "./pglite_statements.ts";

async function prepared(pg: PGlite): Promise<number> {
  const { rows } = await pg.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_prepared_statements",
  );
  return rows[0].n;
}

/** A fresh in-memory PGlite for `fn`, closed after it. */
async function withPglite(fn: (pg: PGlite) => Promise<void>): Promise<void> {
  const pg = await PGlite.create();
  try {
    await fn(pg);
  } finally {
    await pg.close();
  }
}

Deno.test("a statement is prepared once and bound anew to each call's values", async () => {
  await withPglite(async (pg) => {
    const db = pgliteDb(pg);
    await db.sql.exec(
      "CREATE TABLE t (id int PRIMARY KEY, at timestamptz, tags text[], doc jsonb, ok boolean)",
    );
    for (let id = 1; id <= 3; id++) {
      const at = new Date(Date.UTC(2026, 0, id));
      await db.sql`INSERT INTO t VALUES (${id}, ${at}, ${["a", `b${id}`]}, ${json({ id })}, ${
        id % 2 === 1
      })`;
    }
    const rows = await db.sql<{ id: number; at: Date; tags: string[]; doc: unknown; ok: boolean }>`
      SELECT * FROM t WHERE id = ANY(${[1, 2]}::int[]) ORDER BY id`;
    assert.deepEqual(rows, [
      { id: 1, at: new Date(Date.UTC(2026, 0, 1)), tags: ["a", "b1"], doc: { id: 1 }, ok: true },
      { id: 2, at: new Date(Date.UTC(2026, 0, 2)), tags: ["a", "b2"], doc: { id: 2 }, ok: false },
    ]);
    const [none] = await db.sql<{ v: null }>`SELECT ${null}::text AS v`;
    assert.equal(none.v, null);
    // One INSERT and two SELECTs in all, however many times each ran.
    assert.equal(await prepared(pg), 3);
  });
});

Deno.test("a failed statement leaves the cache and the session usable", async () => {
  await withPglite(async (pg) => {
    const db = pgliteDb(pg);
    await db.sql.exec("CREATE TABLE t (id int PRIMARY KEY)");
    const insert = (id: number) => db.sql`INSERT INTO t VALUES (${id})`;
    await insert(1);
    await assert.rejects(insert(1), (e: { code?: string }) => e.code === "23505");
    await insert(2);
    await assert.rejects(db.sql`SELEC ${1}`, /syntax error/);
    await assert.rejects(db.sql`SELECT * FROM missing_table`, /does not exist/);
    // In a transaction: the failure rolls it back, and the next one runs.
    await assert.rejects(db.begin(async (tx) => {
      await tx`INSERT INTO t VALUES (${3})`;
      await tx`INSERT INTO t VALUES (${3})`;
    }));
    await db.begin((tx) => tx`INSERT INTO t VALUES (${4})`);
    const rows = await db.sql<{ id: number }>`SELECT id FROM t ORDER BY id`;
    assert.deepEqual(rows.map((r) => r.id), [1, 2, 4]);
  });
});

Deno.test("a statement whose table changed shape is prepared again", async () => {
  await withPglite(async (pg) => {
    const db = pgliteDb(pg);
    await db.sql.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    const all = (sql = db.sql) => sql`SELECT * FROM t WHERE id = ${1}`;
    assert.deepEqual(await all(), [{ id: 1 }]);
    await db.sql.exec("ALTER TABLE t ADD COLUMN name text DEFAULT 'x'");
    assert.deepEqual(await all(), [{ id: 1, name: "x" }]);
    // Inside a transaction the stale statement fails it; the next one is prepared anew.
    await db.sql.exec("ALTER TABLE t ADD COLUMN n int DEFAULT 2");
    await assert.rejects(db.begin((tx) => all(tx)), /cached plan/);
    assert.deepEqual(await db.begin((tx) => all(tx)), [{ id: 1, name: "x", n: 2 }]);
    // The statements it replaced were closed: `all` has one.
    assert.equal(await prepared(pg), 1);
  });
});

Deno.test("the least recently used statements are closed past the limit", async () => {
  await withPglite(async (pg) => {
    const statements = new PgliteStatements(pg, 3);
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await statements.run(`SELECT ${i} AS n, $1::int AS v`, [i], false), [{
        n: i,
        v: i,
      }]);
    }
    assert.equal(await prepared(pg), 3);
    // Used again, the kept ones answer; the closed ones are prepared anew.
    assert.deepEqual(await statements.run("SELECT 9 AS n, $1::int AS v", [7], false), [{
      n: 9,
      v: 7,
    }]);
    assert.deepEqual(await statements.run("SELECT 0 AS n, $1::int AS v", [5], false), [{
      n: 0,
      v: 5,
    }]);
    assert.equal(await prepared(pg), 3);
  });
});

Deno.test("a statement outside a transaction waits for an open one to end", async () => {
  await withPglite(async (pg) => {
    const db = pgliteDb(pg);
    await db.sql.exec("CREATE TABLE t (id int)");
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    const transaction = db.begin(async (tx) => {
      await tx`INSERT INTO t VALUES (${1})`;
      await held;
      await tx`INSERT INTO t VALUES (${2})`;
      throw new Error("rolled back");
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Were it to run inside the open transaction, the rollback would undo it and it would
    // see the transaction's first row.
    const outside = db.sql<{ n: number }>`SELECT count(*)::int AS n FROM t WHERE id > ${0}`;
    const inserted = db.sql`INSERT INTO t VALUES (${3})`;
    release();
    await assert.rejects(transaction, /rolled back/);
    assert.deepEqual(await outside, [{ n: 0 }]);
    await inserted;
    assert.deepEqual(await db.sql`SELECT id FROM t`, [{ id: 3 }]);
  });
});
