import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { type Db, pgliteDb, postgresDb } from "../db/client.ts";
import { loadMigrations, migrate, type Migration } from "../db/migrate.ts";
import { openTestDb } from "./helpers.ts";

const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL");

/** Every column, index and constraint of the public schema, one line each, sorted. */
async function schema(db: Db): Promise<string[]> {
  const rows = await db.sql<{ item: string }>`
    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
      coalesce(column_default, '') AS item
    FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE n.nspname = 'public'`;
  return rows.map((r) => r.item).sort();
}

async function recorded(db: Db): Promise<number[]> {
  const rows = await db.sql<{ version: number }>`
    SELECT version FROM gust_migration ORDER BY version`;
  return rows.map((r) => r.version);
}

/** The real migrations, the first one slowed down so that concurrent migrators overlap. */
async function slowMigrations(): Promise<Migration[]> {
  const all = await loadMigrations();
  return all.map((m, i) => (i === 0 ? { ...m, sql: `SELECT pg_sleep(0.3);\n${m.sql}` } : m));
}

/** Asserts that every table and index the migrations create (and do not drop later) exists. */
async function assertComplete(db: Db): Promise<void> {
  const lines = await schema(db);
  const sql = (await loadMigrations()).map((m) => m.sql).join("\n");
  const dropped = new Set(
    [...sql.matchAll(/DROP\s+(?:TABLE|INDEX)\s+(?:IF\s+EXISTS\s+)?(\w+)/gi)].map((m) => m[1]),
  );
  const created = [
    ...sql.matchAll(/CREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)/gi),
  ].filter(([, , name]) => !dropped.has(name));
  assert.ok(created.length > 5, "the migrations create tables and indexes");
  for (const [, kind, name] of created) {
    const found = kind.toUpperCase() === "TABLE"
      ? lines.some((line) => line.startsWith(`${name}.`))
      : lines.some((line) => line.includes(` INDEX ${name} ON `));
    assert.ok(found, `${kind.toLowerCase()} ${name} is missing`);
  }
}

Deno.test("migrations are safe to apply concurrently and twice (PGlite)", async (t) => {
  const versions = (await loadMigrations()).map((m) => m.version);
  // One empty instance for every step: creating a PGlite costs seconds.
  const db = pgliteDb(await PGlite.create());
  try {
    await t.step("two concurrent calls apply each migration once", async () => {
      const migrations = await slowMigrations();
      const [a, b] = await Promise.all([migrate(db, migrations), migrate(db, migrations)]);
      assert.deepEqual([...a, ...b].sort((x, y) => x - y), versions);
      assert.deepEqual(await recorded(db), versions);
      await assertComplete(db);
      const [pools] = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM pool`;
      assert.equal(pools.n, 1);
    });

    await t.step("applied again, nothing changes", async () => {
      const before = await schema(db);
      assert.deepEqual(await migrate(db), []);
      assert.deepEqual(await schema(db), before);
      assert.deepEqual(await recorded(db), versions);
    });

    await t.step("a failing migration rolls back and is not recorded", async () => {
      const good: Migration = { version: 9001, name: "one", sql: "CREATE TABLE one (id int);" };
      const bad: Migration = {
        version: 9002,
        name: "two",
        sql: "CREATE TABLE two (id int);\nINSERT INTO missing VALUES (1);",
      };
      await assert.rejects(migrate(db, [good, bad]), /missing/);
      assert.deepEqual(await recorded(db), [...versions, 9001]);
      const [two] = await db.sql<{ name: string | null }>`
        SELECT to_regclass('two')::text AS name`;
      assert.equal(two.name, null, "the failed migration's table must be rolled back");
      const fixed = { ...bad, sql: "CREATE TABLE two (id int);" };
      assert.deepEqual(await migrate(db, [good, fixed]), [9002]);
      assert.deepEqual(await recorded(db), [...versions, 9001, 9002]);
    });
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "concurrent migrations from two Postgres connections apply each migration once",
  ignore: !TEST_DATABASE_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const versions = (await loadMigrations()).map((m) => m.version);
    const name = `gust_migrate_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const admin = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    // template0: an empty database, not the migrated template the other tests clone.
    await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0`);
    const url = new URL(TEST_DATABASE_URL!);
    url.pathname = `/${name}`;
    const first = postgresDb(url.toString(), { max: 2 });
    const second = postgresDb(url.toString(), { max: 2 });
    try {
      assert.deepEqual(await schema(first), [], "the database starts empty");
      const migrations = await slowMigrations();
      const [a, b] = await Promise.all([migrate(first, migrations), migrate(second, migrations)]);
      assert.deepEqual([...a, ...b].sort((x, y) => x - y), versions);
      assert.deepEqual(await recorded(first), versions);
      await assertComplete(second);
      // The same schema as a database migrated once, which every test database is cloned from.
      const reference = await openTestDb("postgres");
      try {
        assert.deepEqual(await schema(second), await schema(reference.db));
      } finally {
        await reference.close();
      }
      assert.deepEqual(await migrate(second), [], "a third migrator finds nothing to do");
    } finally {
      await first.close();
      await second.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  },
});

Deno.test("migrations load in version order and a doubled version is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gust_migrations_" });
  try {
    await Deno.writeTextFile(`${dir}/010_later.sql`, "SELECT 10;");
    await Deno.writeTextFile(`${dir}/002_early.sql`, "SELECT 2;");
    await Deno.writeTextFile(`${dir}/README.md`, "not a migration");
    const loaded = await loadMigrations(new URL(`file://${dir}/`));
    assert.deepEqual(loaded.map((m) => [m.version, m.name]), [[2, "early"], [10, "later"]]);
    await Deno.writeTextFile(`${dir}/002_again.sql`, "SELECT 2;");
    await assert.rejects(
      loadMigrations(new URL(`file://${dir}/`)),
      /Two migrations have version 2/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
