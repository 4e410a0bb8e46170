/**
 * For issue 4: does a second `--role scheduler` process schedule more? A load of many DAGs with
 * many ready tasks (100 DAGs of 20 independent tasks, one run each, created while the DAGs are
 * paused and released at once by unpausing them), with one and with two scheduler processes.
 *
 * - scheduling only: no workers and an unlimited default pool, so nothing but the schedulers'
 *   own work is measured: from the release to the last task instance queued;
 * - end to end: two worker processes (concurrency 16) and the default pool: tasks finished per
 *   second after the release, over all of them or the first 30 s, whichever ends first.
 */
import { type BenchContext, type Figure, figure, type WorkloadResult } from "../lib/result.ts";
import {
  createDatabase,
  freePort,
  gustEnv,
  type GustProcess,
  sleep,
  startGust,
  trigger,
  waitForDags,
  waitHealthy,
  writeDagFolder,
} from "../lib/gust.ts";
import { wideDags } from "../lib/dags.ts";

export interface SchedulersOptions {
  dags: number;
  width: number;
  schedulers: number[];
  modes: ("scheduling" | "end_to_end")[];
  timeoutS?: number;
  /** End to end: measure over at most this many seconds after the release. */
  windowS?: number;
}

async function once(
  ctx: BenchContext,
  o: SchedulersOptions,
  schedulers: number,
  mode: "scheduling" | "end_to_end",
): Promise<number> {
  const dags = await writeDagFolder(wideDags(o.dags, o.width));
  const home = await Deno.makeTempDir({ prefix: "gust_bench_home_" });
  const database = await createDatabase(ctx.adminUrl!, "sched");
  const db = database.db;
  const port = await freePort();
  const env = gustEnv({
    url: database.url,
    home,
    dags,
    port,
    extra: { GUST_WORKER_CONCURRENCY: "16" },
  });
  const processes: GustProcess[] = [startGust({ env, roles: "web" })];
  try {
    for (let s = 0; s < schedulers; s++) {
      processes.push(startGust({ env, roles: "scheduler", label: `scheduler ${s + 1}` }));
    }
    if (mode === "end_to_end") {
      for (let w = 0; w < 2; w++) {
        processes.push(startGust({ env, roles: "worker", label: `worker ${w + 1}` }));
      }
    }
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base, processes[0].startedAt);
    await Promise.all(processes.map((p) => p.waitFor(/Roles: /, 120_000)));
    await waitForDags(db, o.dags);
    if (mode === "scheduling") await db.sql`UPDATE pool SET slots = -1 WHERE name = 'default_pool'`;
    const ids = Array.from({ length: o.dags }, (_, i) => `wide_${String(i).padStart(4, "0")}`);
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(ids.slice(i, i + 8).map((id) => trigger(base, id)));
    }
    await sleep(500);
    const total = o.dags * o.width;
    const released = Date.now();
    await db.sql`UPDATE dag SET is_paused = false WHERE dag_id LIKE 'wide\_%'`;
    await db.notify("gust_run_changed", "bench");
    const deadline = Date.now() + (o.timeoutS ?? 600) * 1000;
    while (Date.now() < deadline) {
      if (mode === "scheduling") {
        const [row] = await db.sql<{ n: number; last: Date | null }>`
          SELECT count(*)::int AS n, max(queued_at) AS last FROM task_instance
          WHERE state = 'queued'`;
        if (row.n >= total) return (new Date(row.last!).getTime() - released) / 1000;
      } else {
        // All tasks done, or the window over: the rate of tasks finished so far.
        const windowOver = Date.now() - released >= (o.windowS ?? 30) * 1000;
        const [row] = await db.sql<{ n: number; last: Date | null }>`
          SELECT count(*)::int AS n, max(end_date) AS last FROM task_instance
          WHERE state IN ('success', 'failed')`;
        if (row.n >= total || (windowOver && row.n > 0)) {
          return (new Date(row.last!).getTime() - released) / 1000 * (total / row.n);
        }
      }
      await sleep(50);
    }
    const tis = await db.sql<{ state: string | null; n: number }>`
      SELECT state, count(*)::int AS n FROM task_instance GROUP BY state`;
    const runs = await db.sql<{ state: string; n: number }>`
      SELECT state, count(*)::int AS n FROM dag_run GROUP BY state`;
    throw new Error(
      `Schedulers (${schedulers}, ${mode}) did not finish in ${
        o.timeoutS ?? 600
      } s: task instances ${JSON.stringify(tis)}, runs ${JSON.stringify(runs)}\n${
        processes.map((p) => p.output().slice(-1500)).join("\n")
      }`,
    );
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await database.drop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(dags, { recursive: true }).catch(() => {});
  }
}

export async function runSchedulers(
  ctx: BenchContext,
  o: SchedulersOptions = {
    dags: 100,
    width: 20,
    schedulers: [1, 2],
    modes: ["scheduling", "end_to_end"],
  },
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  if (ctx.adminUrl) {
    for (const mode of o.modes) {
      for (const schedulers of o.schedulers) {
        const rates: number[] = [];
        for (let i = 0; i < ctx.reps; i++) {
          const seconds = await once(ctx, o, schedulers, mode);
          rates.push((o.dags * o.width) / seconds);
          ctx.log(`schedulers: ${schedulers}, ${mode}: ${rates.at(-1)!.toFixed(0)} tasks/s`);
        }
        figures.push(figure({
          system: "Gust (Postgres)",
          metric: `${
            mode === "scheduling" ? "tasks queued" : "tasks run"
          }, ${schedulers} scheduler${schedulers > 1 ? "s" : ""}`,
          unit: "tasks/s",
          better: "higher",
          samples: rates,
          compare: `${mode}_${schedulers}`,
        }));
      }
    }
  }
  return {
    id: "schedulers",
    title: "Issue 4: one scheduler or two",
    figures,
    notes: [
      `${o.dags} DAGs of ${o.width} independent no-op tasks, one run each (${
        (o.dags * o.width).toLocaleString("en-US")
      } task instances), created while paused and released together; a fresh database and processes per repetition.`,
      `Scheduling only: no workers, default pool unlimited; rate = task instances / (last \`queued_at\` − release). End to end: 2 workers (concurrency 16), default pool (128 slots); rate = tasks finished / (last finish − release), over all tasks or the first ${
        o.windowS ?? 30
      } s after the release, whichever ends first.`,
    ],
    seconds: (performance.now() - started) / 1000,
  };
}
