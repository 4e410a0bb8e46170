/**
 * `deno task bench [name...] [--reps N] [--no-peers] [--quick]`: runs the workloads of issue 6
 * (and the schedulers comparison of issue 4), starting Gust's processes as a user would, and
 * writes `bench/results.json` and the results section of BENCHMARKS.md.
 *
 * Names: chain, fanout, many_dags, trigger, dashboard, footprint, schedulers (default: all).
 * Postgres: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgres://root@127.0.0.1:5432/
 * postgres; each workload creates its own `gust_bench_*` database and drops it afterwards.
 * `--quick` runs every workload at a small size (a few minutes in all) and writes nothing;
 * `--report` only rewrites BENCHMARKS.md from `bench/results.json`.
 */
import { parseArgs } from "node:util";
import { describeMachine } from "./lib/machine.ts";
import { postgresReachable, ROOT } from "./lib/gust.ts";
import type { BenchContext, WorkloadResult } from "./lib/result.ts";
import { denoFmt, merge, readResults, writeMarkdown } from "./lib/report.ts";
import { runChain } from "./workloads/chain.ts";
import { runFanout } from "./workloads/fanout.ts";
import { runManyDags } from "./workloads/many_dags.ts";
import { runTrigger } from "./workloads/trigger.ts";
import { runDashboard } from "./workloads/dashboard.ts";
import { runFootprint } from "./workloads/footprint.ts";
import { runSchedulers } from "./workloads/schedulers.ts";

type Runner = (ctx: BenchContext, quick: boolean) => Promise<WorkloadResult>;

export const WORKLOADS: Record<string, Runner> = {
  chain: (ctx, quick) =>
    runChain(ctx, { steps: quick ? 10 : 40, backends: ["postgres", "pglite"] }),
  fanout: (ctx, quick) =>
    runFanout(ctx, { tasks: quick ? 500 : 10_000, workers: [1, 2], concurrency: 16 }),
  many_dags: (ctx, quick) =>
    runManyDags(ctx, { dags: quick ? 100 : 1000, perFile: 50, minuteTicks: !quick }),
  trigger: (ctx, quick) =>
    runTrigger(ctx, { perRep: quick ? 5 : 20, backends: ["postgres", "pglite"] }),
  dashboard: (ctx, quick) =>
    runDashboard(ctx, {
      // Larger than workload 2's, so that one outlasts each page's 10 s of load.
      fanoutTasks: quick ? 1000 : 30_000,
      listDags: quick ? 50 : 500,
      gridRuns: quick ? 2 : 25,
      seconds: quick ? 3 : 10,
      connections: 16,
    }),
  footprint: (ctx, quick) =>
    runFootprint(ctx, {
      fanoutTasks: quick ? 500 : 10_000,
      idleSeconds: quick ? 1 : 5,
      loadSeconds: quick ? 10 : 30,
      backends: ["pglite", "postgres"],
    }),
  schedulers: (ctx, quick) =>
    runSchedulers(ctx, {
      dags: quick ? 20 : 100,
      width: quick ? 10 : 20,
      schedulers: [1, 2],
      modes: ["scheduling", "end_to_end"],
    }),
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      reps: { type: "string", default: "3" },
      "no-peers": { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      report: { type: "boolean", default: false },
    },
  });
  const jsonPath = `${ROOT}bench/results.json`;
  if (values.report) {
    // Only rewrites BENCHMARKS.md from bench/results.json (after a change to the report).
    const stored = await readResults(jsonPath);
    if (!stored) throw new Error("No bench/results.json yet: run the benchmark first");
    await writeMarkdown(`${ROOT}BENCHMARKS.md`, { ...stored, workloads: stored.workloads });
    return;
  }
  const names = positionals.length ? positionals : Object.keys(WORKLOADS);
  const unknown = names.filter((n) => !(n in WORKLOADS));
  if (unknown.length) {
    console.error(
      `Unknown workload ${unknown.join(", ")}; known: ${Object.keys(WORKLOADS).join(", ")}`,
    );
    Deno.exit(2);
  }
  const url = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL") ??
    "postgres://root@127.0.0.1:5432/postgres";
  const adminUrl = (await postgresReachable(url)) ? url : null;
  const log = (m: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);
  if (!adminUrl) log(`Postgres does not answer at ${url}: only the PGlite figures are measured`);
  const ctx: BenchContext = {
    adminUrl,
    reps: Math.max(1, Number(values.reps)),
    peers: !values["no-peers"],
    log,
  };
  let failed = 0;
  for (const name of names) {
    const machine = await describeMachine(adminUrl);
    log(`== ${name}`);
    let result: WorkloadResult;
    try {
      result = await WORKLOADS[name](ctx, values.quick);
    } catch (error) {
      // One broken workload must not lose the others' results.
      failed++;
      log(`== ${name} failed: ${(error as Error).stack ?? error}`);
      continue;
    }
    log(`== ${name} done in ${result.seconds.toFixed(0)} s`);
    for (const f of result.figures) {
      log(`   ${f.system} | ${f.metric}: ${f.summary.median.toFixed(2)} ${f.unit}`);
    }
    if (values.quick) continue;
    // Written after every workload, so an interrupted run keeps what it measured.
    const stored = { ...result, measuredAt: new Date().toISOString(), machine, reps: ctx.reps };
    const results = merge(await readResults(jsonPath), [stored], machine);
    await Deno.writeTextFile(jsonPath, JSON.stringify(results, null, 2) + "\n");
    await denoFmt(jsonPath);
    await writeMarkdown(`${ROOT}BENCHMARKS.md`, results);
  }
  if (!values.quick) log(`Wrote bench/results.json and BENCHMARKS.md`);
  if (failed) Deno.exit(1);
}

if (import.meta.main) await main();
