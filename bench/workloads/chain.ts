/**
 * Workload 1, sequential steps: one run of a 40-task chain, each task computing fibonacci(10)
 * (the shape of Windmill's orchestrator benchmark). Total time is from the trigger request to
 * the last task's end; a step gap is from one task's end to the next one's start, as the tasks
 * themselves measured them (the peers' jobs measure inside their handlers too). Gust runs as `deno task start` does (all roles in one
 * process), on Postgres and on embedded PGlite; the first run warms the runner and is dropped.
 */
import type { Db } from "../../db/client.ts";
import { median, p95 } from "../lib/stats.ts";
import { type BenchContext, type Figure, figure, type WorkloadResult } from "../lib/result.ts";
import {
  createDatabase,
  freePort,
  gustEnv,
  openEmbedded,
  startGust,
  trigger,
  type Triggered,
  waitForDags,
  waitForDagsApi,
  waitHealthy,
  waitRunApi,
  waitRunDb,
  writeDagFolder,
} from "../lib/gust.ts";
import { taskTimings } from "../lib/timings.ts";
import { chainDag } from "../lib/dags.ts";
import { runPeers } from "../lib/peers.ts";

export interface ChainOptions {
  steps: number;
  backends: ("postgres" | "pglite")[];
}

interface ChainRun {
  totalS: number;
  gapP50: number;
  gapP95: number;
}

export function chainStats(t: Triggered, timings: { start: number; end: number }[]): ChainRun {
  const gaps: number[] = [];
  for (let i = 1; i < timings.length; i++) gaps.push(timings[i].start - timings[i - 1].end);
  const lastEnd = Math.max(...timings.map((x) => x.end));
  return { totalS: (lastEnd - t.sentAt) / 1000, gapP50: median(gaps), gapP95: p95(gaps) };
}

async function gustChain(
  ctx: BenchContext,
  backend: "postgres" | "pglite",
  steps: number,
): Promise<ChainRun[]> {
  const dags = await writeDagFolder(chainDag(steps));
  const home = await Deno.makeTempDir({ prefix: "gust_bench_home_" });
  const database = backend === "postgres" ? await createDatabase(ctx.adminUrl!, "chain") : null;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gust = startGust({
    env: gustEnv({ url: database?.url ?? null, home, dags, port }),
    label: `all roles, ${backend}`,
  });
  const triggered: Triggered[] = [];
  let db: Db | null = database?.db ?? null;
  try {
    await waitHealthy(base, gust.startedAt);
    if (db) await waitForDags(db, 1);
    else await waitForDagsApi(base, ["bench_chain"]);
    for (let i = 0; i <= ctx.reps; i++) {
      const t = await trigger(base, "bench_chain");
      const state = db
        ? await waitRunDb(db, "bench_chain", t.runId)
        : await waitRunApi(base, "bench_chain", t.runId);
      if (state !== "success") throw new Error(`Chain run ended ${state}:\n${gust.output()}`);
      if (i > 0) triggered.push(t); // the first run starts the runner process: a warm-up
      ctx.log(`  chain ${backend} run ${i}${i === 0 ? " (warm-up)" : ""} done`);
    }
  } finally {
    await gust.stop();
  }
  try {
    db ??= await openEmbedded(home);
    const runs: ChainRun[] = [];
    for (const t of triggered) {
      runs.push(chainStats(t, await taskTimings(db, "bench_chain", t.runId)));
    }
    return runs;
  } finally {
    if (database) await database.drop();
    else await db?.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(dags, { recursive: true }).catch(() => {});
  }
}

export async function runChain(
  ctx: BenchContext,
  o: ChainOptions = { steps: 40, backends: ["postgres", "pglite"] },
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  const notes = [
    `${o.steps} tasks in a chain, fibonacci(10) each; ${ctx.reps} measured runs after one warm-up run.`,
    "Total: from the trigger request (`POST /api/v2/dags/bench_chain/dagRuns`) to the last task's end. Gap: one task's end to the next one's start, both measured inside the tasks' functions, as the peers measure inside their handlers.",
    "Gust: one process with all roles (`deno task start`), worker concurrency 4 (default).",
  ];
  for (const backend of o.backends) {
    if (backend === "postgres" && !ctx.adminUrl) continue;
    ctx.log(`chain: Gust on ${backend}`);
    const runs = await gustChain(ctx, backend, o.steps);
    const system = `Gust (${backend === "postgres" ? "Postgres" : "PGlite"})`;
    figures.push(
      figure({
        system,
        metric: `${o.steps}-step chain, total`,
        unit: "s",
        better: "lower",
        samples: runs.map((r) => r.totalS),
        target: 0.4,
        compare: "chain_total",
      }),
      figure({
        system,
        metric: "step gap p50",
        unit: "ms",
        better: "lower",
        samples: runs.map((r) => r.gapP50),
        target: 10,
        compare: "chain_gap_p50",
      }),
      figure({
        system,
        metric: "step gap p95",
        unit: "ms",
        better: "lower",
        samples: runs.map((r) => r.gapP95),
        compare: "chain_gap_p95",
      }),
    );
  }
  if (ctx.peers && ctx.adminUrl) {
    const peer = await runPeers(ctx, "chain", { steps: o.steps });
    figures.push(...peer.figures);
    notes.push(...peer.notes);
  }
  return {
    id: "chain",
    title: "1. Sequential steps",
    figures,
    notes,
    seconds: (performance.now() - started) / 1000,
  };
}
