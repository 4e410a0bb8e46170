/**
 * Opens the metadata database: a Postgres server when a URL is given, else embedded PGlite
 * persisted under `<home>/db`, or in memory for throwaway runs (`gust dags test`).
 */
import { PGlite } from "@electric-sql/pglite";
import { type Db, pgliteDb, postgresDb } from "./client.ts";
import { loadMigrations, migrate } from "./migrate.ts";

export type DbTarget =
  | { url: string; prepare?: boolean }
  | { dataDir: string }
  /** `snapshotDir` caches a migrated empty database: cloning it takes about 1 s, creating one 3 s. */
  | { memory: true; snapshotDir?: string };

export async function openDb(target: DbTarget, options: { migrate?: boolean } = {}): Promise<Db> {
  let db: Db;
  if ("url" in target) {
    db = postgresDb(target.url, { prepare: target.prepare });
  } else if ("dataDir" in target) {
    await Deno.mkdir(target.dataDir, { recursive: true });
    db = pgliteDb(await PGlite.create(target.dataDir));
  } else if (target.snapshotDir) {
    return pgliteDb(
      await PGlite.create({ loadDataDir: await migratedSnapshot(target.snapshotDir) }),
    );
  } else {
    db = pgliteDb(await PGlite.create());
  }
  if (options.migrate ?? true) await migrate(db);
  return db;
}

async function migratedSnapshot(dir: string): Promise<Blob> {
  const migrations = await loadMigrations();
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(migrations.map((m) => `${m.version}:${m.sql}`).join("\n")),
  );
  const hash = [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const path = `${dir}/pglite-${hash}.tar`;
  try {
    return new Blob([await Deno.readFile(path)]);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const pg = await PGlite.create();
  await migrate(pgliteDb(pg));
  const dump = await pg.dumpDataDir("none");
  await pg.close();
  await Deno.mkdir(dir, { recursive: true });
  // Written under a temporary name and renamed, so a concurrent reader never sees half a file.
  const tmp = `${path}.${crypto.randomUUID()}`;
  await Deno.writeFile(tmp, new Uint8Array(await dump.arrayBuffer()));
  await Deno.rename(tmp, path);
  return dump;
}
