/**
 * Workload 2, fan-out throughput: one run whose parent task returns 10,000 items, mapped into
 * 10,000 no-op task instances; tasks per second from the first mapped task's start to the last
 * one's end, with 1 and 2 worker processes. Gust runs as a production deployment does: one
 * `--role web,scheduler` process and separate `--role worker` processes.
 */
import { type BenchContext, type Figure, figure, type WorkloadResult } from "../lib/result.ts";
import {
  type BenchDatabase,
  createDatabase,
  freePort,
  gustCli,
  gustEnv,
  type GustProcess,
  startGust,
  trigger,
  waitForDags,
  waitHealthy,
  waitRunDb,
  writeDagFolder,
} from "../lib/gust.ts";
import { taskTimings } from "../lib/timings.ts";
import { fanoutDag } from "../lib/dags.ts";
import { runPeers } from "../lib/peers.ts";
import { sampleRss } from "../lib/proc.ts";

export interface FanoutOptions {
  tasks: number;
  workers: number[];
  /** GUST_WORKER_CONCURRENCY of each worker process. */
  concurrency: number;
}

export const FANOUT_DEFAULTS: FanoutOptions = { tasks: 10_000, workers: [1, 2], concurrency: 16 };

/**
 * The default pool's slots for a throughput run, set with `gust pools set` as a user scaling out
 * would (Airflow's 128 is a small installation's): each worker claims up to concurrency x 5
 * (prefetch included) at once, and with 128 two such workers split the pool, so each commit
 * carried half as many tries and every task cost more (BENCHMARKS.md F8). BENCH_POOL_SLOTS (-1:
 * unlimited) sets another size, to measure a change at several.
 */
export const FANOUT_POOL_SLOTS = Number(Deno.env.get("BENCH_POOL_SLOTS") ?? 1024);

export interface FanoutCluster {
  database: BenchDatabase;
  base: string;
  processes: GustProcess[];
  close(): Promise<void>;
}

/** A Postgres database, a web+scheduler process (or web and scheduler apart) and n workers. */
export async function startCluster(
  ctx: BenchContext,
  o: {
    files: Record<string, string>;
    dagCount: number;
    workers: number;
    concurrency: number;
    separateWeb?: boolean;
    tag: string;
  },
): Promise<FanoutCluster> {
  const dags = await writeDagFolder(o.files);
  const home = await Deno.makeTempDir({ prefix: "gust_bench_home_" });
  const database = await createDatabase(ctx.adminUrl!, o.tag);
  const port = await freePort();
  const env = gustEnv({
    url: database.url,
    home,
    dags,
    port,
    // Throughput settings, as the peers get theirs: four times as many tasks claimed ahead as
    // run at once (graphile-worker's local queue holds 100), so that runners do not wait for the
    // commit that claims their next task (prefetch 8 -> 64: 1,650 -> 2,600 tasks/s, one worker).
    extra: {
      GUST_WORKER_CONCURRENCY: String(o.concurrency),
      GUST_WORKER_PREFETCH: String(o.concurrency * 4),
    },
  });
  const processes: GustProcess[] = [];
  const close = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await database.drop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(dags, { recursive: true }).catch(() => {});
  };
  try {
    if (o.separateWeb) {
      processes.push(startGust({ env, roles: "web" }), startGust({ env, roles: "scheduler" }));
    } else {
      processes.push(startGust({ env, roles: "web,scheduler" }));
    }
    for (let w = 0; w < o.workers; w++) {
      processes.push(startGust({ env, roles: "worker", label: `worker ${w + 1}` }));
    }
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base, processes[0].startedAt);
    await Promise.all(processes.map((p) => p.waitFor(/Roles: /)));
    await gustCli(
      env,
      "pools",
      "set",
      "default_pool",
      FANOUT_POOL_SLOTS < 0 ? "unlimited" : String(FANOUT_POOL_SLOTS),
    );
    await waitForDags(database.db, o.dagCount);
    return { database, base, processes, close };
  } catch (error) {
    // What the processes printed is usually the reason (a DAG that failed to import, a port).
    const outputs = processes.map((p) => `--- ${p.label}:\n${p.output().slice(-3000)}`);
    await close();
    throw new Error(`${(error as Error).message}\n${outputs.join("\n")}`, { cause: error });
  }
}

export interface FanoutRun {
  tasksPerS: number;
  runS: number;
  peakRssMb: number;
}

/** Triggers the fan-out and waits for it; the caller's cluster must have `bench_fanout`. */
export async function fanoutOnce(c: FanoutCluster, tasks: number): Promise<FanoutRun> {
  const rss = sampleRss(() => c.processes.map((p) => p.pid));
  const t = await trigger(c.base, "bench_fanout");
  const state = await waitRunDb(c.database.db, "bench_fanout", t.runId, 900_000, 100);
  const peakRssMb = rss.stop();
  if (state !== "success") throw new Error(`Fan-out run ended ${state}`);
  const mapped = (await taskTimings(c.database.db, "bench_fanout", t.runId))
    .filter((x) => x.taskId === "each");
  if (mapped.length !== tasks) throw new Error(`Expected ${tasks} tries, saw ${mapped.length}`);
  const first = Math.min(...mapped.map((x) => x.start));
  const last = Math.max(...mapped.map((x) => x.end));
  const [run] = await c.database.db.sql<{ end: Date }>`
    SELECT end_date AS "end" FROM dag_run WHERE dag_id = 'bench_fanout' AND run_id = ${t.runId}`;
  return {
    tasksPerS: tasks / ((last - first) / 1000),
    runS: (new Date(run.end).getTime() - t.sentAt) / 1000,
    peakRssMb,
  };
}

export async function runFanout(
  ctx: BenchContext,
  o: FanoutOptions = FANOUT_DEFAULTS,
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  const notes = [
    `${
      o.tasks.toLocaleString("en-US")
    } mapped no-op tasks under one parent; tasks/s from the first mapped task's start to the last one's end; ${ctx.reps} measured runs per setting, after one warm-up run for Gust (its first run starts the worker's runner processes as tasks arrive, a whole Deno process each, where a peer's jobs run in its already started worker).`,
    `Gust: one \`--role web,scheduler\` process and 1 or 2 \`--role worker\` processes, GUST_WORKER_CONCURRENCY=${o.concurrency} and GUST_WORKER_PREFETCH=${
      o.concurrency * 4
    } each, on Postgres, with \`gust pools set default_pool ${FANOUT_POOL_SLOTS}\` (Airflow's default of 128 slots split between two such workers halved each commit's batch).`,
  ];
  if (!ctx.adminUrl) {
    return {
      id: "fanout",
      title: "2. Fan-out throughput",
      figures,
      notes: [...notes, "Skipped: no Postgres."],
      seconds: 0,
    };
  }
  for (const workers of o.workers) {
    ctx.log(`fan-out: Gust with ${workers} worker(s)`);
    const cluster = await startCluster(ctx, {
      files: fanoutDag(o.tasks),
      dagCount: 1,
      workers,
      concurrency: o.concurrency,
      tag: "fanout",
    });
    const runs: FanoutRun[] = [];
    try {
      const warm = await fanoutOnce(cluster, o.tasks);
      ctx.log(`  warm-up run: ${warm.tasksPerS.toFixed(0)} tasks/s`);
      for (let i = 0; i < ctx.reps; i++) {
        runs.push(await fanoutOnce(cluster, o.tasks));
        ctx.log(`  run ${i + 1}: ${runs.at(-1)!.tasksPerS.toFixed(0)} tasks/s`);
      }
    } finally {
      await cluster.close();
    }
    const system = "Gust (Postgres)";
    figures.push(
      figure({
        system,
        metric: `fan-out, ${workers} worker${workers > 1 ? "s" : ""}`,
        unit: "tasks/s",
        better: "higher",
        samples: runs.map((r) => r.tasksPerS),
        target: workers === 2 ? 5000 : undefined,
        compare: `fanout_${workers}`,
      }),
      figure({
        system,
        metric: `fan-out run, trigger to end, ${workers} worker${workers > 1 ? "s" : ""}`,
        unit: "s",
        better: "lower",
        samples: runs.map((r) => r.runS),
      }),
      figure({
        system,
        metric: `peak RSS, all processes, ${workers} worker${workers > 1 ? "s" : ""}`,
        unit: "MiB",
        better: "lower",
        samples: runs.map((r) => r.peakRssMb),
      }),
    );
  }
  if (ctx.peers) {
    const peer = await runPeers(ctx, "fanout", { tasks: o.tasks, workers: o.workers });
    figures.push(...peer.figures);
    notes.push(...peer.notes);
  }
  return {
    id: "fanout",
    title: "2. Fan-out throughput",
    figures,
    notes,
    seconds: (performance.now() - started) / 1000,
  };
}
