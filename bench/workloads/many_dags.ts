/**
 * Workload 3, many DAGs: 1,000 DAGs of one task each on a one-minute schedule (`* * * * *`,
 * catchup off). For each minute boundary, how long after the fire time the scheduler had
 * created all 1,000 runs (the last run's `queued_at`, which is the creating transaction's
 * time), and the scheduler process's CPU between ticks (including the DAG folder re-parses,
 * which run in its child processes). One `--role scheduler` process and one `--role worker`.
 */
import { type BenchContext, type Figure, figure, type WorkloadResult } from "../lib/result.ts";
import {
  createDatabase,
  freePort,
  gustEnv,
  sleep,
  startGust,
  waitForDags,
  writeDagFolder,
} from "../lib/gust.ts";
import { manyDags } from "../lib/dags.ts";
import { treeCpuSeconds } from "../lib/proc.ts";

export interface ManyDagsOptions {
  dags: number;
  perFile: number;
  /** Wait for real minute boundaries; off (smoke test) measures only the start-up tick. */
  minuteTicks: boolean;
}

interface Tick {
  lastS: number;
  firstS: number;
  cpuPct: number | null;
}

/**
 * Polls until `count` runs of the fire time `fire` exist; returns when the first and the last
 * became visible (epoch ms, the bench's clock, 25 ms resolution). `queued_at` cannot say it:
 * the scheduler stamps every run of one pass with the pass's start time.
 */
async function tickAt(
  db: Awaited<ReturnType<typeof createDatabase>>["db"],
  fire: Date | null,
  count: number,
  timeoutMs: number,
): Promise<{ first: number; last: number; n: number }> {
  const deadline = Date.now() + timeoutMs;
  let first = NaN;
  while (true) {
    const [row] = await db.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM dag_run
      WHERE run_type = 'scheduled' AND (${fire}::timestamptz IS NULL OR run_after = ${fire})`;
    if (row.n > 0 && Number.isNaN(first)) first = Date.now();
    if (row.n >= count || Date.now() > deadline) return { n: row.n, first, last: Date.now() };
    await sleep(25);
  }
}

export async function runManyDags(
  ctx: BenchContext,
  o: ManyDagsOptions = { dags: 1000, perFile: 50, minuteTicks: true },
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  const notes = [
    `${
      o.dags.toLocaleString("en-US")
    } DAGs (one no-op task each, ${o.perFile} per file) on \`* * * * *\` with catchup off; one \`--role scheduler\` and one \`--role worker\` process on Postgres.`,
    "Tick: from the minute boundary (the runs' `run_after`) until the first and the last of its runs were visible in `dag_run` (polled every 25 ms by the benchmark).",
    "CPU between ticks: the scheduler process's user+system CPU (with its reaped children: the DAG processor's parse processes) from 30 s to 58 s after the boundary, as a share of one core.",
  ];
  if (!ctx.adminUrl) return { id: "many_dags", title: "3. Many DAGs", figures, notes, seconds: 0 };
  const dags = await writeDagFolder(manyDags(o.dags, { perFile: o.perFile }));
  const home = await Deno.makeTempDir({ prefix: "gust_bench_home_" });
  const database = await createDatabase(ctx.adminUrl, "many");
  const port = await freePort();
  const env = gustEnv({ url: database.url, home, dags, port });
  const scheduler = startGust({ env, roles: "scheduler" });
  const worker = startGust({ env, roles: "worker" });
  const ticks: Tick[] = [];
  let startupS = NaN;
  let parseS = NaN;
  try {
    await scheduler.waitFor(/Roles: /, 300_000);
    await waitForDags(database.db, o.dags, 300_000);
    const parsedAt = Date.now();
    parseS = (performance.now() - scheduler.startedAt) / 1000;
    ctx.log(`many DAGs: ${o.dags} parsed ${parseS.toFixed(1)} s after start`);
    // With catchup off, the latest interval's run is created at once: the start-up tick
    // (unless a minute boundary passes meanwhile, when there are two fire times).
    const t = await tickAt(database.db, null, o.dags, 120_000);
    startupS = (t.last - parsedAt) / 1000;
    if (o.minuteTicks) {
      for (let i = 0; i < ctx.reps; i++) {
        const fire = new Date(Math.ceil((Date.now() + 1000) / 60_000) * 60_000);
        await sleep(fire.getTime() - Date.now());
        const t = await tickAt(database.db, fire, o.dags, 55_000);
        if (t.n < o.dags) {
          notes.push(`Tick at ${fire.toISOString()}: only ${t.n} runs within 55 s.`);
        }
        await sleep(fire.getTime() + 30_000 - Date.now());
        const cpu0 = treeCpuSeconds(scheduler.pid);
        const w0 = performance.now();
        await sleep(fire.getTime() + 58_000 - Date.now());
        const cpuPct = (treeCpuSeconds(scheduler.pid) - cpu0) / ((performance.now() - w0) / 1000) *
          100;
        ticks.push({
          lastS: (t.last - fire.getTime()) / 1000,
          firstS: (t.first - fire.getTime()) / 1000,
          cpuPct,
        });
        ctx.log(`  tick ${i + 1}: all runs ${ticks.at(-1)!.lastS.toFixed(2)} s after the boundary`);
      }
    }
  } finally {
    await Promise.all([scheduler.stop(), worker.stop()]);
    await database.drop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(dags, { recursive: true }).catch(() => {});
  }
  const system = "Gust (Postgres)";
  figures.push(figure({
    system,
    metric: `start-up tick: all ${o.dags} runs created, after the DAGs were stored`,
    unit: "s",
    better: "lower",
    samples: [startupS],
  }));
  figures.push(figure({
    system,
    metric: `${o.dags} DAGs parsed, from process start`,
    unit: "s",
    better: "lower",
    samples: [parseS],
  }));
  if (ticks.length) {
    figures.push(
      figure({
        system,
        metric: `tick: all ${o.dags} runs created, after the boundary`,
        unit: "s",
        better: "lower",
        samples: ticks.map((t) => t.lastS),
        target: 1,
      }),
      figure({
        system,
        metric: "tick: first run created, after the boundary",
        unit: "s",
        better: "lower",
        samples: ticks.map((t) => t.firstS),
      }),
      figure({
        system,
        metric: "scheduler CPU between ticks",
        unit: "% of a core",
        better: "lower",
        samples: ticks.map((t) => t.cpuPct ?? NaN),
      }),
    );
  }
  return {
    id: "many_dags",
    title: "3. Many DAGs",
    figures,
    notes,
    seconds: (performance.now() - started) / 1000,
  };
}
