/**
 * `/metrics` in Prometheus' text format: the live work read from the metadata database (what a
 * worker autoscaler scales on: queued tasks per queue; what an alert watches: a scheduler
 * leader's heartbeat, open pool slots), and this process's own figures: memory, HTTP requests,
 * and what the worker and scheduler in it did.
 *
 * On a web server it needs a bearer token with read access (an API token, for Prometheus'
 * `authorization` setting): its labels name DAGs' pools and queues, which the dashboard shows
 * only to signed-in users. A process without the web role can serve `/health` and its own
 * figures, which name nothing, on a port of its own (`processApp`). When the database does not
 * answer, the process's own figures still come, with `gust_database_up 0`, so a scrape tells a
 * dead database from a dead server.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import {
  type ClusterMetrics,
  LIVE_RUN_STATES,
  LIVE_TI_STATES,
  readClusterMetrics,
} from "../db/metrics.ts";
import { apiAccess } from "./auth_access.ts";
import type { Db } from "../db/client.ts";
import type { SchedulerService } from "../scheduler/service.ts";
import type { WorkerService } from "../worker/service.ts";
import { health, pingDatabase, withinCheck } from "./health.ts";
import type { AppEnv, Deps } from "./mod.ts";

/** The roles running in this process, filled in by main.ts as each one starts. */
export interface ProcessRoles {
  worker?: WorkerService;
  scheduler?: SchedulerService;
}

/** Requests this process answered, per route pattern (never the raw path: ids are unbounded). */
export class HttpStats {
  readonly #byKey = new Map<string, { labels: Labels; count: number; seconds: number }>();

  record(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let entry = this.#byKey.get(key);
    if (!entry) {
      entry = { labels: { method, route, status: String(status) }, count: 0, seconds: 0 };
      this.#byKey.set(key, entry);
    }
    entry.count++;
    entry.seconds += seconds;
  }

  entries() {
    return [...this.#byKey.values()];
  }
}

/** Counts every request of the app; mounted first, so it times the whole answer. */
export function countRequests(stats: HttpStats): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // Read after the chain ran: the route of the handler that answered (the last one entered).
      stats.record(
        c.req.method,
        routePath(c),
        c.res.status,
        (performance.now() - started) / 1000,
      );
    }
  };
}

// The API's check: a path with no operation entry needs a bearer token with read access.
export const metrics = new Hono<AppEnv>().get("/", apiAccess, async (c) => {
  const deps = c.get("deps");
  const out = new Exposition();
  const cluster = await readOrNull(deps.db);
  out.gauge("gust_database_up", "Whether the metadata database answered this scrape.", [
    [{}, cluster ? 1 : 0],
  ]);
  if (cluster) writeCluster(out, cluster);
  writeProcess(out, deps);
  return exposition(out);
});

/**
 * `/health` and `/metrics` for a process without the web role (`GUST_METRICS_PORT`), for a
 * liveness probe and a scrape of each worker and scheduler. No login: it shows only this
 * process's own counts, no DAG, pool or queue names; keep the port inside the cluster.
 */
export function processApp(deps: Pick<Deps, "db" | "roles" | "startedAt" | "http" | "process">) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("deps", deps as Deps); // /health reads only db, roles and startedAt
    c.set("principal", null);
    await next();
  });
  app.use(countRequests(deps.http));
  app.route("/health", health);
  app.get("/metrics", async () => {
    const out = new Exposition();
    const up = await pingDatabase(deps.db).then(() => true, () => false);
    out.gauge("gust_database_up", "Whether the metadata database answered this scrape.", [
      [{}, up ? 1 : 0],
    ]);
    writeProcess(out, deps);
    return exposition(out);
  });
  return app;
}

async function readOrNull(db: Db): Promise<ClusterMetrics | null> {
  try {
    return await withinCheck(() => readClusterMetrics(db.sql));
  } catch (error) {
    console.error("/metrics: the database did not answer:", (error as Error).message);
    return null;
  }
}

function exposition(out: Exposition): Response {
  return new Response(out.text(), {
    headers: {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

function writeProcess(
  out: Exposition,
  deps: Pick<Deps, "roles" | "startedAt" | "http" | "process">,
): void {
  out.gauge("gust_info", "This process; its roles as a label.", [
    [{ roles: deps.roles.join(",") }, 1],
  ]);
  out.gauge("gust_process_start_time_seconds", "When this process started, in Unix seconds.", [
    [{}, deps.startedAt.getTime() / 1000],
  ]);
  const memory = Deno.memoryUsage();
  out.gauge("gust_process_resident_memory_bytes", "This process's resident memory.", [
    [{}, memory.rss],
  ]);
  out.gauge("gust_process_heap_used_bytes", "JavaScript heap in use in this process.", [
    [{}, memory.heapUsed],
  ]);
  const requests = deps.http.entries();
  out.counter(
    "gust_http_requests_total",
    "HTTP requests this process answered, per method, route pattern and status.",
    requests.map((r) => [r.labels, r.count]),
  );
  out.summary(
    "gust_http_request_duration_seconds",
    "Time to answer HTTP requests, per method, route pattern and status.",
    requests.map((r) => [r.labels, r.seconds, r.count]),
  );
  const { worker, scheduler } = deps.process ?? {};
  if (worker) writeWorker(out, worker);
  if (scheduler) {
    out.gauge("gust_scheduler_leading", "Whether the scheduler in this process leads.", [
      [{}, scheduler.leader.isLeader() ? 1 : 0],
    ]);
  }
}

function writeWorker(out: Exposition, worker: WorkerService): void {
  const { stats, load } = worker;
  out.counter("gust_worker_tries_started_total", "Tries this worker started.", [
    [{}, stats.started],
  ]);
  out.counter(
    "gust_worker_tries_ended_total",
    "Tries this worker ended, per outcome (lost: its lease had passed to another).",
    [...stats.ended].map(([outcome, n]) => [{ outcome }, n]),
  );
  out.counter(
    "gust_worker_try_seconds_total",
    "Seconds from claim to recorded outcome, summed over the tries this worker ended.",
    [[{}, stats.seconds]],
  );
  out.gauge("gust_worker_tries_running", "Tries this worker holds now.", [[{}, load.running]]);
  out.gauge("gust_worker_concurrency", "Tries this worker runs at once at most.", [
    [{}, load.concurrency],
  ]);
  out.gauge("gust_worker_runners", "This worker's runner processes, running a task or warm.", [
    [{ state: "busy" }, load.runners.busy],
    [{ state: "idle" }, load.runners.idle],
  ]);
}

function writeCluster(out: Exposition, m: ClusterMetrics): void {
  const byState = new Map<string, number>(LIVE_TI_STATES.map((s) => [s, 0]));
  for (const t of m.taskInstances) byState.set(t.state, (byState.get(t.state) ?? 0) + t.n);
  out.gauge(
    "gust_task_instances",
    "Task instances waiting or running, per state (all DAGs).",
    [...byState].map(([state, n]) => [{ state }, n]),
  );
  out.gauge(
    "gust_task_instances_by_queue",
    "Task instances waiting or running, per state, queue and pool; only those that have some.",
    m.taskInstances.map((t) => [{ state: t.state, queue: t.queue, pool: t.pool }, t.n]),
  );
  const runs = new Map<string, number>(LIVE_RUN_STATES.map((s) => [s, 0]));
  for (const r of m.dagRuns) runs.set(r.state, r.n);
  out.gauge(
    "gust_dag_runs",
    "DAG runs queued or running.",
    [...runs].map(([state, n]) => [{ state }, n]),
  );
  out.gauge(
    "gust_pool_slots",
    "Pool slots held by queued and running tasks, and open (+Inf: unlimited).",
    m.pools.flatMap((p) =>
      [
        [{ pool: p.pool, state: "queued" }, p.queued],
        [{ pool: p.pool, state: "running" }, p.running],
        [
          { pool: p.pool, state: "open" },
          p.slots < 0 ? Infinity : Math.max(0, p.slots - p.queued - p.running),
        ],
      ] as Sample[]
    ),
  );
  out.gauge("gust_dags", "DAGs in the DAG folder, paused or not.", [
    [{ state: "active" }, m.dags.active],
    [{ state: "paused" }, m.dags.paused],
  ]);
  out.gauge("gust_dag_import_errors", "DAG files that failed to import.", [
    [{}, m.dags.importErrors],
  ]);
  out.gauge("gust_schedulers_alive", "Schedulers that heartbeat within 30 s.", [
    [{}, m.schedulers.alive],
  ]);
  out.gauge("gust_scheduler_leader_alive", "Whether a scheduler leads and heartbeats.", [
    [{}, m.schedulers.leaderAlive ? 1 : 0],
  ]);
  if (m.schedulers.leaderHeartbeatAgeS !== null) {
    out.gauge(
      "gust_scheduler_leader_heartbeat_age_seconds",
      "Seconds since the leading scheduler's last heartbeat.",
      [[{}, m.schedulers.leaderHeartbeatAgeS]],
    );
  }
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** Prometheus' text exposition format, version 0.0.4. */
class Exposition {
  #lines: string[] = [];

  gauge(name: string, help: string, samples: Sample[]): void {
    this.#family(name, "gauge", help);
    for (const [labels, value] of samples) this.#sample(name, labels, value);
  }

  counter(name: string, help: string, samples: Sample[]): void {
    this.#family(name, "counter", help);
    for (const [labels, value] of samples) this.#sample(name, labels, value);
  }

  /** A summary without quantiles: a sum and a count per label set. */
  summary(name: string, help: string, samples: [Labels, number, number][]): void {
    this.#family(name, "summary", help);
    for (const [labels, sum, count] of samples) {
      this.#sample(`${name}_sum`, labels, sum);
      this.#sample(`${name}_count`, labels, count);
    }
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }

  #family(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
  }

  #sample(name: string, labels: Labels, value: number): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    this.#lines.push(`${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${format(value)}`);
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function format(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
