/**
 * Starting Gust as a user would (`main.ts` with its environment, one process per role group),
 * databases of its own for each workload, and the few API calls a benchmark makes.
 */
import postgres from "postgres";
import { type Db, postgresDb } from "../../db/client.ts";
import { openDb } from "../../db/open.ts";
import { moduleLoadingEnv } from "../../worker/permissions.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The Gust checkout whose `main.ts` is started: this one, or BENCH_GUST_ROOT (another checkout,
 * to compare a change against the same benchmark code).
 */
export const GUST_ROOT = (Deno.env.get("BENCH_GUST_ROOT") ?? ROOT).replace(/\/?$/, "/");

export interface GustProcess {
  readonly pid: number;
  readonly label: string;
  readonly startedAt: number;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  status: Promise<Deno.CommandStatus>;
}

/**
 * The variables a child needs to find Deno's cache and tools, and Deno's network settings (a
 * user's proxy or certificate authority: without them a runner cannot fetch a module it has not
 * cached); nothing else leaks in.
 */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", ...moduleLoadingEnv(Deno.env.toObject()) };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Spawns `deno run --allow-all --unstable-worker-options main.ts` (what `deno task start`
 * runs) with `--role <roles>` when given. `task: true` spawns `deno task start` itself.
 */
export function startGust(
  o: { env: Record<string, string>; roles?: string; label?: string; task?: boolean },
): GustProcess {
  const args = o.task
    ? ["task", "--quiet", "start"]
    : ["run", "--allow-all", "--unstable-worker-options", "main.ts"];
  if (o.roles) args.push(...(o.task ? ["--role", o.roles] : ["--role", o.roles]));
  const startedAt = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: GUST_ROOT,
    env: { ...baseEnv(), ...o.env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (
      const chunk of stream.pipeThrough(
        new TextDecoderStream() as TransformStream<Uint8Array, string>,
      )
    ) {
      text += chunk;
      if (text.length > 400_000) text = text.slice(-200_000);
    }
  };
  collect(child.stdout).catch(() => {});
  collect(child.stderr).catch(() => {});
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);
  const label = o.label ?? o.roles ?? "all roles";
  return {
    pid: child.pid,
    label,
    startedAt,
    output: () => text,
    status,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (exited) throw new Error(`Gust (${label}) exited; output:\n${text.slice(-4000)}`);
        if (Date.now() > deadline) {
          throw new Error(
            `Gust (${label}): timed out waiting for ${pattern}:\n${text.slice(-4000)}`,
          );
        }
        await sleep(20);
      }
    },
    async stop(graceMs = 15_000) {
      if (exited) return;
      try {
        child.kill("SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, graceMs);
      await status;
      clearTimeout(timer);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return Promise.resolve(port);
}

/** Polls `/health` until it answers 200; returns the milliseconds since `since`. */
export async function waitHealthy(baseUrl: string, since: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseUrl}/health`);
      await res.body?.cancel();
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`${baseUrl}/health did not answer within ${timeoutMs} ms`);
}

/** A Postgres database created for one workload and dropped after it. */
export interface BenchDatabase {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function postgresReachable(adminUrl: string): Promise<boolean> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function createDatabase(
  adminUrl: string,
  tag: string,
  o: { migrate?: boolean } = {},
): Promise<BenchDatabase> {
  const name = `gust_bench_${tag}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  // Migrated here, before any Gust process starts, so their start is not a race to migrate.
  const db = await openDb({ url }, { migrate: o.migrate ?? true });
  return {
    name,
    url,
    db,
    async drop() {
      await db.close();
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Opens an embedded database folder that no Gust process holds any more (to read results). */
export function openEmbedded(home: string): Promise<Db> {
  return openDb({ dataDir: `${home}/db` }, { migrate: false });
}

export function connect(url: string): Db {
  return postgresDb(url, { max: 4 });
}

/** Writes DAG files into a new temporary folder; returns its path. */
export async function writeDagFolder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "gust_bench_dags_" });
  for (const [name, source] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, source);
  }
  return dir;
}

/** Waits until the DAG processor has stored these DAGs. */
export async function waitForDags(db: Db, count: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await db.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM dag WHERE is_active AND latest_version_id IS NOT NULL`;
    if (row.n >= count) return;
    await sleep(100);
  }
  throw new Error(`Fewer than ${count} DAGs were parsed within ${timeoutMs} ms`);
}

/** GUST_HOME of the Gust listening on each port (see gustEnv), for its local credential. */
const homes = new Map<number, string>();

/**
 * The API credential for the Gust at `baseUrl`: the local one its web server wrote into
 * GUST_HOME at start, as the CLI uses it. None for a checkout that predates authentication.
 */
export async function authHeaders(baseUrl: string): Promise<Record<string, string>> {
  const home = homes.get(Number(new URL(baseUrl).port));
  const text = home
    ? await Deno.readTextFile(`${home}/cli_credential.json`).catch(() => null)
    : null;
  const token = text ? JSON.parse(text).token : null;
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Waits through the API (the only way in while an embedded database is held by Gust). */
export async function waitForDagsApi(baseUrl: string, dagIds: string[], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (const dagId of dagIds) {
    while (true) {
      const res = await fetch(`${baseUrl}/api/v2/dags/${dagId}/dagRuns?limit=1`, {
        headers: await authHeaders(baseUrl),
      });
      await res.body?.cancel();
      if (res.status === 200) break;
      if (Date.now() > deadline) throw new Error(`DAG ${dagId} was not parsed in time`);
      await sleep(100);
    }
  }
}

export interface Triggered {
  runId: string;
  /** Epoch milliseconds just before the request was sent. */
  sentAt: number;
  /** Milliseconds the API took to answer. */
  answerMs: number;
}

/** `POST /api/v2/dags/{dag_id}/dagRuns`, as Airflow clients call it. */
export async function trigger(baseUrl: string, dagId: string, conf = {}): Promise<Triggered> {
  const auth = await authHeaders(baseUrl);
  const sentAt = Date.now();
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/api/v2/dags/${dagId}/dagRuns`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({ logical_date: null, conf }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`Trigger of ${dagId} failed: ${JSON.stringify(body)}`);
  return { runId: body.dag_run_id, sentAt, answerMs: performance.now() - t0 };
}

/** Marks a run failed as a user would (`PATCH .../dagRuns/{run_id}`): its unfinished tasks stop. */
export async function failRun(baseUrl: string, dagId: string, runId: string): Promise<void> {
  const res = await fetch(
    `${baseUrl}/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`,
    {
      method: "PATCH",
      headers: { "content-type": "application/json", ...(await authHeaders(baseUrl)) },
      body: JSON.stringify({ state: "failed" }),
    },
  );
  const body = await res.text();
  if (res.status !== 200) throw new Error(`Marking ${dagId} ${runId} failed: ${body}`);
}

/** Polls the database until the run has ended; returns its state. */
export async function waitRunDb(
  db: Db,
  dagId: string,
  runId: string,
  timeoutMs = 600_000,
  everyMs = 20,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [run] = await db.sql<{ state: string }>`
      SELECT state FROM dag_run WHERE dag_id = ${dagId} AND run_id = ${runId}`;
    if (run && (run.state === "success" || run.state === "failed")) return run.state;
    await sleep(everyMs);
  }
  throw new Error(`Run ${dagId}/${runId} did not end within ${timeoutMs} ms`);
}

/** Polls the API until the run has ended (for embedded databases); returns its state. */
export async function waitRunApi(
  baseUrl: string,
  dagId: string,
  runId: string,
  timeoutMs = 600_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let seen = "not listed";
  const one = `${baseUrl}/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`;
  // Newest first where the list takes Airflow's `order_by` (its default is oldest first).
  const list = `${baseUrl}/api/v2/dags/${dagId}/dagRuns?limit=50&order_by=-id`;
  let single = true;
  while (Date.now() < deadline) {
    let run: { dag_run_id: string; state: string } | undefined;
    const headers = await authHeaders(baseUrl);
    let res = single ? await fetch(one, { headers }) : null;
    if (res && res.status === 200) run = await res.json();
    else {
      await res?.body?.cancel();
      single = false; // an API without the single-run route
      res = await fetch(list, { headers });
      const body = await res.json() as { dag_runs: { dag_run_id: string; state: string }[] };
      run = body.dag_runs?.find((r) => r.dag_run_id === runId);
    }
    if (run && (run.state === "success" || run.state === "failed")) return run.state;
    seen = run ? `state ${run.state}` : `not listed (${res.status})`;
    await sleep(100);
  }
  throw new Error(`Run ${dagId}/${runId} did not end within ${timeoutMs} ms (${seen})`);
}

/** Runs `gust <args>` (cli/mod.ts) against the installation `env` describes, as a user would. */
export async function gustCli(env: Record<string, string>, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "cli/mod.ts", ...args],
    cwd: GUST_ROOT,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) {
    throw new Error(`gust ${args.join(" ")} exited ${out.code}: ${text(out.stderr)}`);
  }
  return text(out.stdout);
}

/** Environment for a Gust process on Postgres or (url null) on an embedded database. */
export function gustEnv(
  o: {
    url: string | null;
    home: string;
    dags: string;
    port: number;
    extra?: Record<string, string>;
  },
): Record<string, string> {
  homes.set(o.port, o.home);
  return {
    ...(o.url ? { DATABASE_URL: o.url } : {}),
    GUST_HOME: o.home,
    GUST_DAGS_FOLDER: o.dags,
    GUST_PORT: String(o.port),
    ...o.extra,
  };
}

/**
 * `POST /webhooks/{dag_id}` signed as Gust's scheme asks: `X-Gust-Timestamp` and
 * `X-Gust-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<body>">`. Null when the server has
 * no such route or refuses the DAG (webhooks not built, or the DAG did not opt in).
 */
export async function webhook(
  baseUrl: string,
  dagId: string,
  secret: string,
  payload: Record<string, unknown>,
): Promise<Triggered | null> {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`)),
  );
  const signature = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
  const sentAt = Date.now();
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/webhooks/${dagId}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-gust-timestamp": timestamp,
      "x-gust-signature": `sha256=${signature}`,
    },
    body,
  });
  const text = await res.text();
  if (res.status === 404) return null;
  if (res.status !== 202 && res.status !== 200) {
    throw new Error(`Webhook for ${dagId} answered ${res.status}: ${text}`);
  }
  return { runId: JSON.parse(text).dag_run_id, sentAt, answerMs: performance.now() - t0 };
}
