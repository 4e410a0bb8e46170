/**
 * The benchmark workloads at a tiny size, so the benchmark code cannot rot: each starts Gust's
 * real processes, drives its workload and must report finite figures. Peers are skipped (they
 * install from npm), and so is everything that needs a Postgres server when TEST_DATABASE_URL
 * is unset. The figures themselves are not asserted: CI machines are too noisy for that.
 */
import assert from "node:assert/strict";
import type { BenchContext, WorkloadResult } from "../bench/lib/result.ts";
import { runChain } from "../bench/workloads/chain.ts";
import { runFanout } from "../bench/workloads/fanout.ts";
import { runManyDags } from "../bench/workloads/many_dags.ts";
import { runTrigger } from "../bench/workloads/trigger.ts";
import { runDashboard } from "../bench/workloads/dashboard.ts";
import { runFootprint } from "../bench/workloads/footprint.ts";
import { runSchedulers } from "../bench/workloads/schedulers.ts";
import { markdown, merge } from "../bench/lib/report.ts";
import { describeMachine } from "../bench/lib/machine.ts";

const URL_ = Deno.env.get("TEST_DATABASE_URL") ?? null;
const ctx: BenchContext = { adminUrl: URL_, reps: 1, peers: false, log: () => {} };

function assertFigures(result: WorkloadResult, expected: number): void {
  assert.equal(result.figures.length, expected, JSON.stringify(result.figures, null, 1));
  for (const f of result.figures) {
    assert.ok(f.samples.length > 0, `${f.metric}: no samples`);
    for (const s of f.samples) assert.ok(Number.isFinite(s) && s >= 0, `${f.metric}: ${s}`);
  }
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "bench smoke: a 3-step chain on PGlite (and Postgres) reports its total and step gaps",
  ...opts,
  async fn() {
    const result = await runChain(ctx, { steps: 3, backends: ["pglite", "postgres"] });
    assertFigures(result, URL_ ? 6 : 3);
  },
});

Deno.test({
  name: "bench smoke: trigger-to-first-task latency on PGlite (and Postgres)",
  ...opts,
  async fn() {
    assertFigures(
      await runTrigger(ctx, { perRep: 2, backends: ["pglite", "postgres"] }),
      URL_ ? 6 : 3,
    );
  },
});

Deno.test({
  name: "bench smoke: footprint of deno task start on PGlite",
  ...opts,
  async fn() {
    const result = await runFootprint(ctx, {
      fanoutTasks: 5,
      idleSeconds: 0,
      loadSeconds: 5,
      backends: ["pglite"],
    });
    assertFigures(result, 3);
  },
});

Deno.test({
  name: "bench smoke: fan-out, many DAGs, dashboard and schedulers on Postgres",
  ignore: !URL_,
  ...opts,
  async fn(t) {
    await t.step("fan-out of 20 tasks with one worker", async () => {
      assertFigures(await runFanout(ctx, { tasks: 20, workers: [1], concurrency: 4 }), 3);
    });
    await t.step("10 scheduled DAGs: the start-up tick", async () => {
      assertFigures(await runManyDags(ctx, { dags: 10, perFile: 5, minuteTicks: false }), 2);
    });
    await t.step("the DAG list under load while a fan-out runs", async () => {
      const result = await runDashboard(ctx, {
        fanoutTasks: 50,
        listDags: 5,
        gridRuns: 0,
        seconds: 1,
        connections: 2,
        tool: "deno",
      });
      assert.ok(result.figures.length >= 2);
      assertFigures(result, result.figures.length);
    });
    await t.step("one scheduler and two, scheduling only", async () => {
      const result = await runSchedulers(ctx, {
        dags: 3,
        width: 3,
        schedulers: [1, 2],
        modes: ["scheduling"],
      });
      assertFigures(result, 2);
    });
  },
});

Deno.test("bench report: the Markdown section has a row per figure and the peers' ratios", async () => {
  const machine = await describeMachine(null);
  const sample = (system: string, median: number) => ({
    system,
    metric: "fan-out, 1 worker",
    unit: "tasks/s",
    better: "higher" as const,
    samples: [median],
    summary: { median, min: median, max: median, n: 1 },
    compare: "fanout_1",
  });
  const results = merge(null, [{
    id: "fanout",
    title: "2. Fan-out throughput",
    figures: [sample("Gust (Postgres)", 200), sample("bullmq 6.7.0", 1000)],
    notes: ["a note"],
    seconds: 1,
    measuredAt: "2026-01-01T00:00:00Z",
    machine,
    reps: 1,
  }], machine);
  const md = markdown(results);
  assert.match(md, /\| Gust \(Postgres\) \| fan-out, 1 worker \| 200 tasks\/s \|/);
  assert.match(md, /\| 0\.2 \(Gust 5× less\) \|/);
  assert.match(md, /- a note/);
});
