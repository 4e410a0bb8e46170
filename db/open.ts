/**
 * Opens the metadata database: a Postgres server when a URL is given, else embedded PGlite
 * persisted under `<home>/db`, or in memory for throwaway runs (`gust dags test`).
 */
import { PGlite } from "@electric-sql/pglite";
import { type Db, pgliteDb, postgresDb } from "./client.ts";
import { loadMigrations, migrate } from "./migrate.ts";
import { untar } from "./untar.ts";
import denoConfig from "../deno.json" with { type: "json" };

const PGLITE_VERSION = denoConfig.imports["@electric-sql/pglite"];

export type DbTarget =
  | { url: string; prepare?: boolean }
  /**
   * `snapshotDir` caches a migrated empty database, from which a new data folder is made:
   * writing out its files takes about 0.1 s, creating a database (PGlite's initdb) 3 to 10 s.
   */
  | { dataDir: string; snapshotDir?: string }
  | { memory: true; snapshotDir?: string };

/**
 * PGlite's start options. Postgres' default 128 MB of shared buffers is touched as it is
 * initialized, and lives in the process: measured here, a PGlite process idled at 312 MiB with
 * 128 MB and 190 MiB with 16 MB. 32 MB holds an embedded installation's hot pages, and
 * the operating system caches the data files below it anyway. (The WebAssembly memory cannot
 * start below the 128 MiB its module declares: PGlite's `initialMemory` only raises it.)
 */
const PGLITE_START = [...PGlite.defaultStartParams, "-c", "shared_buffers=32MB"];

export async function openDb(target: DbTarget, options: { migrate?: boolean } = {}): Promise<Db> {
  let db: Db;
  if ("url" in target) {
    db = postgresDb(target.url, { prepare: target.prepare });
  } else if ("dataDir" in target) {
    db = pgliteDb(await openDataDir(target.dataDir, target.snapshotDir));
  } else if (target.snapshotDir) {
    return pgliteDb(
      await PGlite.create({
        loadDataDir: new Blob([await migratedSnapshot(target.snapshotDir)]),
        startParams: PGLITE_START,
      }),
    );
  } else {
    db = pgliteDb(await PGlite.create({ startParams: PGLITE_START }));
  }
  if (options.migrate ?? true) await migrate(db);
  return db;
}

/**
 * A new data folder is made from the snapshot in a folder beside it and renamed once complete,
 * so a start killed halfway leaves no half-made database to be opened later.
 */
async function openDataDir(dir: string, snapshotDir?: string): Promise<PGlite> {
  const exists = await Deno.stat(`${dir}/PG_VERSION`).then(() => true, () => false);
  if (!exists && snapshotDir) {
    const snapshot = await migratedSnapshot(snapshotDir);
    const partial = `${dir}.partial-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await untar(snapshot, partial);
      await removeEmpty(dir);
      await Deno.rename(partial, dir);
    } finally {
      await Deno.remove(partial, { recursive: true }).catch(() => {});
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  return await PGlite.create({ dataDir: dir, startParams: PGLITE_START });
}

async function removeEmpty(dir: string): Promise<void> {
  try {
    await Deno.remove(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new Error(`Cannot create the embedded database in ${dir}: the folder is not empty`);
  }
}

/** What the snapshot holds beyond the migrations; a change here names a new snapshot. */
const SNAPSHOT_LAYOUT = "without template databases";

/**
 * A new data folder is mostly files to create, and creating a file costs 0.4 to 0.9 ms on these
 * machines' disks: 1,123 files took 0.8 s, most of a fresh start. Two thirds of them are the
 * template databases, which only CREATE DATABASE reads, and Gust never creates one in its
 * embedded database (it uses `postgres`), so the snapshot goes without them: 490 files.
 */
async function dropTemplates(pg: PGlite): Promise<void> {
  // One statement per call: a multi-statement script runs as one transaction, and DROP
  // DATABASE refuses to run inside one.
  await pg.exec(
    "UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')",
  );
  await pg.exec("DROP DATABASE template0");
  await pg.exec("DROP DATABASE template1");
}

/** The snapshot's bytes (a Blob would cost a copy of its 40 MB to read back). */
async function migratedSnapshot(dir: string): Promise<Uint8Array<ArrayBuffer>> {
  const migrations = await loadMigrations();
  // Named after the migrations and the PGlite build: another version's files would not open.
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(
      [PGLITE_VERSION, SNAPSHOT_LAYOUT, ...migrations.map((m) => `${m.version}:${m.sql}`)]
        .join("\n"),
    ),
  );
  const hash = [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const path = `${dir}/pglite-${hash}.tar`;
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const pg = await PGlite.create();
  await migrate(pgliteDb(pg));
  await dropTemplates(pg);
  const dump = new Uint8Array(await (await pg.dumpDataDir("none")).arrayBuffer());
  await pg.close();
  await Deno.mkdir(dir, { recursive: true });
  // Written under a temporary name and renamed, so a concurrent reader never sees half a file.
  const tmp = `${path}.${crypto.randomUUID()}`;
  await Deno.writeFile(tmp, dump);
  await Deno.rename(tmp, path);
  // Snapshots of older migrations or PGlite builds are 40 MB each and never read again.
  for await (const entry of Deno.readDir(dir)) {
    if (/^pglite-[0-9a-f]+\.tar$/.test(entry.name) && `${dir}/${entry.name}` !== path) {
      await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
    }
  }
  return dump;
}
