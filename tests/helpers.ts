/**
 * Test helpers. Database tests run on every backend Gust supports: embedded PGlite always, and
 * a real Postgres server when TEST_DATABASE_URL is set (CI sets it). Each test gets a database
 * of its own: PGlite is cloned from a migrated snapshot, Postgres from a migrated template
 * database, so no test sees another's rows and no test pays for migrations.
 */
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { type Db, pgliteDb, postgresDb } from "../db/client.ts";
import { loadMigrations, migrate } from "../db/migrate.ts";
import { storeDagVersion } from "../db/dags.ts";
import { listDagFiles, parseDagFolder, type ParsedFile } from "../scheduler/dag_processor.ts";
import { runToCompletion } from "../scheduler/local_run.ts";
import type { RunState } from "../scheduler/states.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { RunnerPool } from "../worker/runner_pool.ts";
import { TaskWorker, type TaskWorkerOptions, type WorkerEvent } from "../worker/task_worker.ts";
import denoConfig from "../deno.json" with { type: "json" };

export type Backend = "pglite" | "postgres";

const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL");
export const BACKENDS: Backend[] = TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];

/** A short digest of the migrations: snapshots and templates are named after it. */
async function migrationsDigest(): Promise<string> {
  const migrations = await loadMigrations();
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(migrations.map((m) => m.sql).join("\n")),
  );
  return [...new Uint8Array(digest)].slice(0, 6).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

let pgliteSnapshot: Promise<Blob> | null = null;

/**
 * A migrated PGlite data folder, kept as a file named after the migrations and the PGlite
 * version, so only the first test file on a machine pays for initdb (about 5 s). A file is
 * written under a temporary name and renamed, so a reader never sees half of one.
 */
function pgliteSnapshotBlob(): Promise<Blob> {
  pgliteSnapshot ??= (async () => {
    const version = denoConfig.imports["@electric-sql/pglite"].replace(/[^A-Za-z0-9.]+/g, "_");
    const dir = Deno.env.get("TMPDIR") ?? "/tmp";
    const path = `${dir}/gust_pglite_${await migrationsDigest()}_${version}.tar`;
    try {
      return new Blob([await Deno.readFile(path)]);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const pg = await PGlite.create();
    await migrate(pgliteDb(pg));
    const dump = await pg.dumpDataDir("none");
    await pg.close();
    const partial = `${path}.${crypto.randomUUID()}`;
    await Deno.writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await Deno.rename(partial, path);
    // Snapshots of older migrations are 40 MB each and never read again.
    for await (const entry of Deno.readDir(dir)) {
      if (/^gust_pglite_[\w.]+\.tar$/.test(entry.name) && `${dir}/${entry.name}` !== path) {
        await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
      }
    }
    return dump;
  })();
  return pgliteSnapshot;
}

async function pgliteClone(): Promise<Db> {
  return pgliteDb(await PGlite.create({ loadDataDir: await pgliteSnapshotBlob() }));
}

let templateName: Promise<string> | null = null;

/** A migrated template database named after the migrations, created once per machine. */
function postgresTemplate(): Promise<string> {
  templateName ??= (async () => {
    const name = `gust_tpl_${await migrationsDigest()}`;
    // One connection, so the session lock and the statements share a session. Test files run
    // in parallel processes: one creates the template, the others wait on the lock.
    const admin = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      await admin`SELECT pg_advisory_lock(7406899)`;
      const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
      if (!exists) {
        await admin.unsafe(`CREATE DATABASE ${name}`);
        const db = postgresDb(withDatabase(TEST_DATABASE_URL!, name), { max: 1 });
        await migrate(db);
        await db.close();
      }
      await admin`SELECT pg_advisory_unlock(7406899)`;
    } finally {
      await admin.end();
    }
    return name;
  })();
  return templateName;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDb {
  db: Db;
  backend: Backend;
  /** For Postgres, the URL of this test's database (for child processes). */
  url: string | null;
  close(): Promise<void>;
}

export async function openTestDb(backend: Backend): Promise<TestDb> {
  if (backend === "pglite") {
    const db = await pgliteClone();
    return { db, backend, url: null, close: () => db.close() };
  }
  const template = await postgresTemplate();
  const name = `gust_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgresDb(TEST_DATABASE_URL!, { max: 1 });
  await admin.sql.exec(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = withDatabase(TEST_DATABASE_URL!, name);
  const db = postgresDb(url);
  return {
    db,
    backend,
    url,
    async close() {
      await db.close();
      await admin.sql.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.close();
    },
  };
}

/** Registers one test per backend, named `<name> [<backend>]`, with a fresh database. */
export function dbTest(
  name: string,
  fn: (t: Deno.TestContext, db: Db, info: TestDb) => Promise<void>,
  options: { ignore?: boolean } = {},
): void {
  for (const backend of BACKENDS) {
    Deno.test({
      name: `${name} [${backend}]`,
      ignore: options.ignore,
      sanitizeResources: false,
      sanitizeOps: false,
      async fn(t) {
        const info = await openTestDb(backend);
        try {
          await fn(t, info.db, info);
        } finally {
          await info.close();
        }
      },
    });
  }
}

/** Fails, naming what it waited for, instead of hanging the suite if `promise` never settles. */
export async function within<T>(seconds: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not settled after ${seconds} s`)),
      seconds * 1000,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A controllable clock for schedules, retries and leases. */
export class TestClock {
  constructor(public current = new Date("2025-01-01T00:00:00Z")) {}
  now = (): Date => new Date(this.current);
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
}

/** Writes DAG files into a new temporary folder; returns its path. */
export async function dagFolder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "gust_dags_" });
  for (const [name, source] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, source);
  }
  return dir;
}

export interface Engine {
  folder: string;
  events: WorkerEvent[];
  /** The worker's runner processes, to check that killed ones are gone. */
  runners: RunnerPool;
  /** Triggers a run and drives it to its end; returns its id and final state. */
  run(
    dagId: string,
    options?: { conf?: unknown; onIdle?: (next: Date | null) => Promise<void> },
  ): Promise<{ dagRunId: number; state: RunState }>;
  close(): Promise<void>;
}

const parsed = new Map<string, Promise<ParsedFile[]>>();

/**
 * Parses a DAG folder once per content: every test of a file loads the same folder into a
 * fresh database, and parsing (a runner process importing every file) is most of the cost.
 */
async function parseOnce(folder: string): Promise<ParsedFile[]> {
  const names = await listDagFiles(folder);
  const sources = await Promise.all(names.map((n) => Deno.readTextFile(`${folder}/${n}`)));
  const key = JSON.stringify([folder, names, sources]);
  let files = parsed.get(key);
  if (!files) {
    files = parseDagFolder(folder, { timeoutMs: 20_000 });
    files.catch(() => parsed.delete(key));
    parsed.set(key, files);
  }
  return await files;
}

/** Stores the DAGs of a folder as the DAG processor would; throws if a file fails to load. */
export async function loadDags(db: Db, folder: string, now: Date): Promise<void> {
  const files = await parseOnce(folder);
  const failed = files.filter((f) => f.error);
  if (failed.length) {
    throw new Error(`DAG files failed: ${JSON.stringify(failed.map((f) => f.error))}`);
  }
  for (const f of files) {
    for (const d of f.dags) {
      await storeDagVersion(db, { ...d, fileloc: f.file, source: f.source, now });
    }
  }
}

/**
 * Loads a DAG folder into the database and gives a scheduler and worker that run in this
 * process, with real runner processes. Pass a clock to control retry delays.
 */
/**
 * A task worker on `folder` with a runner pool of its own, with the tests' usual settings
 * (`default` queue, concurrency 4, a minute's lease, 1 MiB results) unless `o` says otherwise.
 * Its caller stops the worker and closes the runners.
 */
export function testWorker(
  db: Db,
  folder: string,
  o: Partial<TaskWorkerOptions> = {},
  env?: Record<string, string>,
): { runners: RunnerPool; worker: TaskWorker } {
  const runners = new RunnerPool({ dagsFolder: folder, defaultMemoryMb: 128, env });
  const worker = new TaskWorker({
    db,
    runners,
    dagsFolder: folder,
    workerId: "test-worker",
    hostname: "localhost",
    queues: ["default"],
    concurrency: 4,
    leaseMs: 60_000,
    maxResultBytes: 1 << 20,
    ...o,
  });
  return { runners, worker };
}

export async function startEngine(
  db: Db,
  folder: string,
  options: {
    clock?: TestClock;
    concurrency?: number;
    /** The worker's environment, which tasks' declared variables are copied from. */
    env?: Record<string, string>;
    maxResultBytes?: number;
  } = {},
): Promise<Engine> {
  const clock = options.clock?.now ?? (() => new Date());
  await loadDags(db, folder, clock());
  const events: WorkerEvent[] = [];
  const { runners, worker } = testWorker(db, folder, {
    concurrency: options.concurrency ?? 4,
    maxResultBytes: options.maxResultBytes ?? 1_048_576,
    clock,
    onEvent: (e) => events.push(e),
  }, options.env);
  return {
    folder,
    events,
    runners,
    async run(dagId, o = {}) {
      const { dagRunId } = await triggerRun(db, { dagId, conf: o.conf, now: clock() });
      const state = await runToCompletion({ db, worker, dagRunId, clock, onIdle: o.onIdle });
      return { dagRunId, state };
    },
    async close() {
      worker.stop();
      await runners.close();
    },
  };
}

/** `task_id` (or `task_id[i]` for mapped instances) to state, for one run. */
export async function taskStates(db: Db, dagRunId: number): Promise<Record<string, string | null>> {
  const rows = await db.sql<{ taskId: string; mapIndex: number; state: string | null }>`
    SELECT task_id AS "taskId", map_index AS "mapIndex", state FROM task_instance
    WHERE dag_run_id = ${dagRunId} ORDER BY task_id, map_index`;
  return Object.fromEntries(
    rows.map((r) => [r.mapIndex >= 0 ? `${r.taskId}[${r.mapIndex}]` : r.taskId, r.state]),
  );
}

/** The log lines of one try of a task instance. */
export async function taskLog(
  db: Db,
  dagRunId: number,
  taskId: string,
  tryNumber = 1,
): Promise<string[]> {
  const rows = await db.sql<{ line: string }>`
    SELECT l.line FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ${taskId} AND l.try_number = ${tryNumber}
    ORDER BY l.id`;
  return rows.map((r) => r.line);
}
