/**
 * Workload 5, the dashboard under load: requests per second and p95 latency of the DAG list
 * (`/`) and of a 200-task grid page, each while a fan-out like workload 2's runs (one per page
 * and repetition, and another whenever one ends before the page's load does). The web role runs in
 * a process of its own (`--role web`), beside a scheduler and two workers, as in production.
 * The list shows the fan-out DAG, the 200-task DAG and 500 small DAGs (the size issue 5 names).
 */
import { type BenchContext, type Figure, figure, type WorkloadResult } from "../lib/result.ts";
import { authHeaders, failRun, sleep, trigger, waitRunDb } from "../lib/gust.ts";
import { fanoutDag, gridDag, manyDags } from "../lib/dags.ts";
import { load, type LoadResult } from "../lib/load.ts";
import { type FanoutCluster, startCluster } from "./fanout.ts";
import type { Db } from "../../db/client.ts";

export interface DashboardOptions {
  fanoutTasks: number;
  listDags: number;
  gridRuns: number;
  seconds: number;
  connections: number;
  tool?: "wrk" | "deno";
}

/** Where a DAG's grid may live; the first that answers 200 is measured. */
const GRID_PATHS = ["/dags/bench_grid/grid", "/dags/bench_grid"];

/**
 * What a browser sends when htmx polls a grid it already shows: the fragment's request, gzip, and
 * the ETag of its copy (the grid's DAG does not run during the load, so the copy stays current).
 * Null when the page sends no ETag (a checkout from before conditional answers).
 */
async function pollHeaders(
  url: string,
  auth: Record<string, string>,
): Promise<Record<string, string> | null> {
  const headers = { "HX-Request": "true", "Accept-Encoding": "gzip" };
  const res = await fetch(url, { headers: { ...auth, ...headers } });
  await res.body?.cancel();
  const etag = res.headers.get("etag");
  return etag ? { ...headers, "If-None-Match": etag } : null;
}

async function runState(db: Db, runId: string): Promise<string | undefined> {
  const [row] = await db.sql<{ state: string }>`
    SELECT state FROM dag_run WHERE dag_id = 'bench_fanout' AND run_id = ${runId}`;
  return row?.state;
}

/**
 * Waits for `measuring`, triggering a new fan-out whenever the last one ended, so that the whole
 * load runs next to one (on a fast machine a fan-out ends within the load's seconds). Adds each
 * new run's id to `fanouts`.
 */
async function keepFanoutRunning<T>(
  cluster: FanoutCluster,
  fanouts: string[],
  measuring: Promise<T>,
): Promise<T> {
  let done = false;
  const result = measuring.finally(() => done = true);
  while (!done) {
    await Promise.race([result, sleep(200)]);
    if (!done && await runState(cluster.database.db, fanouts.at(-1)!) !== "running") {
      fanouts.push((await trigger(cluster.base, "bench_fanout")).runId);
    }
  }
  return await result;
}

export async function runDashboard(
  ctx: BenchContext,
  o: DashboardOptions = {
    fanoutTasks: 30_000,
    listDags: 500,
    gridRuns: 25,
    seconds: 10,
    connections: 16,
  },
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  const notes: string[] = [];
  if (!ctx.adminUrl) {
    return { id: "dashboard", title: "5. Dashboard under load", figures, notes, seconds: 0 };
  }
  const cluster = await startCluster(ctx, {
    files: {
      ...fanoutDag(o.fanoutTasks),
      ...gridDag(200),
      ...manyDags(o.listDags, { schedule: null, prefix: "listed", perFile: 50 }),
    },
    dagCount: o.listDags + 2,
    workers: 2,
    concurrency: 16,
    separateWeb: true,
    tag: "dashboard",
  });
  const samples: Record<string, LoadResult[]> = {};
  try {
    let gridPath: string | null = null;
    for (const path of GRID_PATHS) {
      const res = await fetch(`${cluster.base}${path}`, {
        headers: await authHeaders(cluster.base),
      });
      await res.body?.cancel();
      if (res.status === 200) {
        gridPath = path;
        break;
      }
    }
    if (gridPath) {
      for (let i = 0; i < o.gridRuns; i++) {
        const t = await trigger(cluster.base, "bench_grid");
        await waitRunDb(cluster.database.db, "bench_grid", t.runId, 300_000, 50);
      }
    } else {
      notes.push(
        `No grid page answered (tried ${
          GRID_PATHS.join(", ")
        }): the dashboard issue has not landed it yet, so only the DAG list is measured.`,
      );
    }
    const pages: [string, string, Record<string, string>?][] = [
      [`DAG list (${o.listDags + 2} DAGs)`, "/"],
    ];
    if (gridPath) {
      pages.push([`grid, 200 tasks × ${o.gridRuns} runs`, gridPath]);
      // A browser's first visit: no copy to revalidate, but gzip (14 KB instead of 245 here).
      pages.push([`grid, gzip as a browser asks for it`, gridPath, { "Accept-Encoding": "gzip" }]);
      const poll = await pollHeaders(`${cluster.base}${gridPath}`, await authHeaders(cluster.base));
      if (poll) pages.push([`grid's htmx poll, revalidated by the browser`, gridPath, poll]);
    }
    // The same pages with nothing running first: what a page costs on its own.
    for (const [name, path, headers] of pages) {
      const r = await load(`${cluster.base}${path}`, {
        seconds: Math.max(1, Math.round(o.seconds / 2)),
        connections: o.connections,
        tool: o.tool,
        headers: { ...(await authHeaders(cluster.base)), ...headers },
      });
      (samples[`${name}, idle`] ??= []).push(r);
      ctx.log(`  ${name}, idle: ${r.requestsPerS.toFixed(0)} req/s, p95 ${r.p95Ms.toFixed(1)} ms`);
    }
    for (let rep = 0; rep < ctx.reps; rep++) {
      // A fan-out of its own for each page, so that every page is measured while one runs.
      for (const [name, path, headers] of pages) {
        const fanouts = [(await trigger(cluster.base, "bench_fanout")).runId];
        await sleep(1500); // let the fan-out expand and the workers get going
        const measuring = load(`${cluster.base}${path}`, {
          seconds: o.seconds,
          connections: o.connections,
          tool: o.tool,
          headers: { ...(await authHeaders(cluster.base)), ...headers },
        });
        const r = await keepFanoutRunning(cluster, fanouts, measuring);
        (samples[`${name}, under load`] ??= []).push(r);
        ctx.log(
          `  ${name}: ${r.requestsPerS.toFixed(0)} req/s, p95 ${r.p95Ms.toFixed(1)} ms (${r.tool})`,
        );
        if (fanouts.length > 1) {
          notes.push(
            `Repetition ${
              rep + 1
            }, ${name}: ${fanouts.length} fan-outs, one after another, covered the load.`,
          );
        }
        // The next page needs a fan-out of its own; this one is not waited for.
        for (const runId of fanouts) {
          if (await runState(cluster.database.db, runId) === "running") {
            await failRun(cluster.base, "bench_fanout", runId);
          }
        }
        await sleep(2000); // the running tasks drain
      }
    }
  } finally {
    await cluster.close();
  }
  const system = "Gust (Postgres)";
  for (const [name, results] of Object.entries(samples)) {
    figures.push(
      figure({
        system,
        metric: `${name}: requests/s`,
        unit: "req/s",
        better: "higher",
        samples: results.map((r) => r.requestsPerS),
        target: name.endsWith("under load") ? 500 : undefined,
      }),
      figure({
        system,
        metric: `${name}: p95`,
        unit: "ms",
        better: "lower",
        samples: results.map((r) => r.p95Ms),
        target: name.endsWith("under load") ? 50 : undefined,
      }),
    );
    const errors = results.reduce((n, r) => n + r.errors, 0);
    if (errors) notes.push(`${name}: ${errors} failed requests.`);
  }
  const tool = Object.values(samples)[0]?.[0]?.tool ?? "wrk";
  notes.unshift(
    `Load: ${
      tool === "wrk" ? "wrk" : "the built-in Deno client (wrk not installed)"
    }, ${o.connections} connections for ${o.seconds} s per page, while a ${
      o.fanoutTasks.toLocaleString("en-US")
    }-task fan-out runs on 2 workers (when one ends before the load does, another is triggered); \`--role web\`, \`--role scheduler\` and 2 \`--role worker\` processes. The pages are asked for without compression or a cached copy, as wrk does; the grid once more with gzip, as a browser's first visit asks for it; the poll as a browser asks for it (HX-Request, gzip, If-None-Match).`,
  );
  return {
    id: "dashboard",
    title: "5. Dashboard under load",
    figures,
    notes,
    seconds: (performance.now() - started) / 1000,
  };
}
