/**
 * Gust's entry point: configuration, database, roles, signals. `deno task start` runs the web
 * server, a scheduler and a worker in one process; `--role` (or GUST_ROLES) picks a subset.
 */
import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig, type Role } from "./config.ts";
import type { Db } from "./db/client.ts";
import { openDb } from "./db/open.ts";
import { startAuth } from "./routes/auth_setup.ts";
import { HttpStats, processApp, type ProcessRoles } from "./routes/metrics.ts";
import { createApp } from "./routes/mod.ts";
import { SchedulerService } from "./scheduler/service.ts";
import { WorkerService } from "./worker/service.ts";

const SHUTDOWN_GRACE_MS = 30_000;

function log(message: string): void {
  console.log(`${new Date().toISOString()} ${message}`);
}

async function openDatabase(config: Config): Promise<{ db: Db; release: () => Promise<void> }> {
  if (config.databaseUrl) {
    const db = await openDb({ url: config.databaseUrl, prepare: config.databasePrepare });
    return { db, release: async () => {} };
  }
  // PGlite serves one process: the pid file tells the CLI the embedded database is taken.
  await Deno.mkdir(config.home, { recursive: true });
  const pidFile = `${config.home}/server.pid`;
  const other = await Deno.readTextFile(pidFile).catch(() => null);
  if (other && isRunning(Number(other))) {
    throw new ConfigError(
      `Another Gust process (pid ${other.trim()}) is using the embedded database in ${config.home}`,
    );
  }
  await Deno.writeTextFile(pidFile, String(Deno.pid));
  const db = await openDb({ dataDir: `${config.home}/db`, snapshotDir: config.cacheDir });
  return { db, release: () => Deno.remove(pidFile).catch(() => {}) };
}

function isRunning(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT"); // signal 0 is not offered; SIGCONT is harmless to a running process
    return true;
  } catch {
    return false;
  }
}

export async function start(config: Config): Promise<void> {
  const { db, release } = await openDatabase(config);
  const roles = new Set<Role>(config.roles);
  let scheduler: SchedulerService | null = null;
  let worker: WorkerService | null = null;
  let server: Deno.HttpServer | null = null;
  let releaseAuth = async () => {};
  // Filled in as each role starts; /metrics reads what is there.
  const processRoles: ProcessRoles = {};
  const startedAt = new Date();

  // Two-stage shutdown: the first signal stops taking work and lets running tasks finish; a
  // second one (or the end of the grace period) hands them back to be retried elsewhere. Listened
  // for before any role starts: a signal in between (an orchestrator's stop, a Ctrl-C while the
  // first parse runs) would otherwise kill the process outright. It waits for the roles being
  // started to finish starting, then stops them in order.
  const started = Promise.withResolvers<void>();
  let stopping = false;
  const shutdown = async () => {
    if (stopping) {
      log("Second signal: handing running tasks back");
      await started.promise;
      await worker?.handBack();
      return;
    }
    stopping = true;
    log("Shutting down: no new tasks; waiting for running ones");
    await started.promise;
    await server?.shutdown();
    await releaseAuth();
    await worker?.stop(SHUTDOWN_GRACE_MS);
    await scheduler?.stop();
    await db.close();
    await release();
    log("Stopped");
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, shutdown);

  // The web server first: it answers /health as soon as the database is open, while the
  // scheduler's first parse of the DAG folder and the worker's start are still under way.
  if (roles.has("web")) {
    // The JWT key, the first Admin (its password printed once, once the server listens) and the
    // CLI's local credential.
    const auth = await startAuth(config, db, log);
    releaseAuth = auth.release;
    const app = createApp({
      db,
      roles: config.roles,
      startedAt,
      process: processRoles,
      maxBodyBytes: config.maxBodyBytes,
      webhook: config.webhook,
      auth: auth.settings,
    });
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      onListen: ({ hostname, port }) => log(`Gust is running: http://${hostname}:${port}/`),
    }, app.fetch);
    await auth.firstAdmin;
  } else if (config.metricsPort !== null) {
    const app = processApp({
      db,
      roles: config.roles,
      startedAt,
      http: new HttpStats(),
      process: processRoles,
    });
    server = Deno.serve({
      hostname: config.host,
      port: config.metricsPort,
      onListen: ({ hostname, port }) =>
        log(`Serving /health and /metrics on http://${hostname}:${port}/`),
    }, app.fetch);
  }
  if (roles.has("scheduler")) {
    scheduler = new SchedulerService({
      db,
      dagsFolder: config.dagsFolder,
      dagImportTimeoutMs: config.dagImportTimeoutMs,
      dagRefreshIntervalMs: config.dagRefreshIntervalMs,
      dagReparseIntervalMs: config.dagReparseIntervalMs,
      dagRetryIntervalMs: config.dagRetryIntervalMs,
      leaseMs: config.schedulerLeaseMs,
      log,
    });
    processRoles.scheduler = scheduler;
    await scheduler.start();
  }
  if (roles.has("worker")) {
    worker = new WorkerService({
      db,
      dagsFolder: config.dagsFolder,
      workerId: `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
      hostname: Deno.hostname(),
      queues: config.worker.queues,
      concurrency: config.worker.concurrency,
      prefetch: config.worker.prefetch,
      leaseMs: config.worker.leaseMs,
      maxResultBytes: config.maxResultBytes,
      runnerMemoryMb: config.worker.runnerMemoryMb,
      env: config.taskEnv,
      log,
    });
    processRoles.worker = worker;
    await worker.start();
  }
  log(
    `Roles: ${config.roles.join(", ")}; DAG folder ${config.dagsFolder}; database ${
      config.databaseUrl ? "Postgres" : `embedded (${config.home}/db)`
    }`,
  );

  started.resolve();
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { role: { type: "string" } } });
  try {
    const env = Deno.env.toObject();
    if (values.role) env.GUST_ROLES = values.role;
    await start(loadConfig(env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(2);
  }
}
