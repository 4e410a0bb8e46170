/**
 * Applies the numbered `.sql` files of `migrations/` in order. Each runs in its own transaction
 * that first takes a transaction-scoped advisory lock, so two processes starting at once
 * serialize here and the second finds the work done; the lock is released with the commit, so
 * it is safe through a pool. Applying twice changes nothing.
 */
import type { Db } from "./client.ts";

const MIGRATION_LOCK = 7_406_813; // arbitrary, constant: "gust" migrations
const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(\d+)_(.+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !match) continue;
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    migrations.push({ version: Number(match[1]), name: match[2], sql });
  }
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (i > 0 && migrations[i - 1].version === m.version) {
      throw new Error(`Two migrations have version ${m.version}`);
    }
  });
  return migrations;
}

/** Returns the versions it applied (empty when the schema was already current). */
export async function migrate(db: Db, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? await loadMigrations();
  const applied: number[] = [];
  for (const migration of all) {
    const done = await db.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx.exec(`CREATE TABLE IF NOT EXISTS gust_migration (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const [row] = await tx`SELECT 1 FROM gust_migration WHERE version = ${migration.version}`;
      if (row) return false;
      await tx.exec(migration.sql);
      await tx`INSERT INTO gust_migration (version, name) VALUES (${migration.version}, ${migration.name})`;
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
