/**
 * Workload 6, footprint: time from `deno task start` to the first 200 on `/health` (a fresh
 * home, and a restart on the same home), resident memory of the whole process tree (Gust and
 * its runner processes) when idle, and its peak while the fan-out of workload 2 runs in the
 * same single process. Embedded PGlite (the default) and Postgres.
 */
import { type BenchContext, type Figure, figure, type WorkloadResult } from "../lib/result.ts";
import {
  createDatabase,
  freePort,
  gustEnv,
  sleep,
  startGust,
  trigger,
  waitForDags,
  waitForDagsApi,
  waitHealthy,
  waitRunApi,
  waitRunDb,
  writeDagFolder,
} from "../lib/gust.ts";
import { fanoutDag } from "../lib/dags.ts";
import { sampleRss, treeRssMb } from "../lib/proc.ts";

export interface FootprintOptions {
  fanoutTasks: number;
  idleSeconds: number;
  loadSeconds: number;
  backends: ("postgres" | "pglite")[];
}

interface Sample {
  readyFreshMs: number;
  readyRestartMs: number;
  idleMb: number;
  loadMb: number | null;
}

async function once(
  ctx: BenchContext,
  backend: "postgres" | "pglite",
  o: FootprintOptions,
  withLoad: boolean,
): Promise<Sample> {
  const dags = await writeDagFolder(fanoutDag(o.fanoutTasks));
  const home = await Deno.makeTempDir({ prefix: "gust_bench_home_" });
  // The database is created empty: the fresh start includes Gust's migrations, as a user's does.
  let database: Awaited<ReturnType<typeof createDatabase>> | null = null;
  if (backend === "postgres") {
    database = await createDatabase(ctx.adminUrl!, "footprint", { migrate: false });
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = gustEnv({ url: database?.url ?? null, home, dags, port });
  try {
    const first = startGust({ env, task: true, label: `deno task start (${backend})` });
    let readyFreshMs: number;
    try {
      readyFreshMs = await waitHealthy(base, first.startedAt);
    } finally {
      await first.stop();
    }
    const gust = startGust({ env, task: true, label: `deno task start (${backend})` });
    try {
      const readyRestartMs = await waitHealthy(base, gust.startedAt);
      if (database) await waitForDags(database.db, 1);
      else await waitForDagsApi(base, ["bench_fanout"]);
      await sleep(o.idleSeconds * 1000);
      const idleMb = treeRssMb(gust.pid);
      let loadMb: number | null = null;
      if (withLoad) {
        // The peak over the fan-out's first `loadSeconds` (it expands to all its task
        // instances at once, so its memory is there early), not its whole length.
        const rss = sampleRss(() => [gust.pid]);
        const t = await trigger(base, "bench_fanout");
        const ended = database
          ? waitRunDb(database.db, "bench_fanout", t.runId, o.loadSeconds * 1000, 200)
          : waitRunApi(base, "bench_fanout", t.runId, o.loadSeconds * 1000);
        await ended.catch(() => {});
        loadMb = rss.stop();
      }
      return { readyFreshMs, readyRestartMs, idleMb, loadMb };
    } finally {
      await gust.stop();
    }
  } finally {
    await database?.drop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(dags, { recursive: true }).catch(() => {});
  }
}

export async function runFootprint(
  ctx: BenchContext,
  o: FootprintOptions = {
    fanoutTasks: 10_000,
    idleSeconds: 5,
    loadSeconds: 30,
    backends: ["pglite", "postgres"],
  },
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  for (const backend of o.backends) {
    if (backend === "postgres" && !ctx.adminUrl) continue;
    const samples: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) {
      // Memory under load once per backend: the fan-out in one process takes a while.
      samples.push(await once(ctx, backend, o, i === 0 && backend === "postgres"));
      ctx.log(`footprint ${backend} ${i + 1}: ready ${samples.at(-1)!.readyFreshMs.toFixed(0)} ms`);
    }
    const system = `Gust (${backend === "postgres" ? "Postgres" : "PGlite"})`;
    figures.push(
      figure({
        system,
        metric: "ready: start to first /health answer, fresh home",
        unit: "s",
        better: "lower",
        samples: samples.map((s) => s.readyFreshMs / 1000),
        target: 1,
      }),
      figure({
        system,
        metric: "ready: restart",
        unit: "s",
        better: "lower",
        samples: samples.map((s) => s.readyRestartMs / 1000),
        target: 1,
      }),
      figure({
        system,
        metric: "RSS idle, process tree",
        unit: "MiB",
        better: "lower",
        samples: samples.map((s) => s.idleMb),
        target: 150,
      }),
    );
    const loaded = samples.map((s) => s.loadMb).filter((m): m is number => m !== null);
    if (loaded.length) {
      figures.push(figure({
        system,
        metric: `RSS peak during a ${o.fanoutTasks.toLocaleString("en-US")}-task fan-out`,
        unit: "MiB",
        better: "lower",
        samples: loaded,
      }));
    }
  }
  return {
    id: "footprint",
    title: "6. Footprint",
    figures,
    notes: [
      "`deno task start` spawned as a user runs it (all roles in one process; PGlite unless DATABASE_URL is set). Ready: from spawning the command to the first 200 on `/health`; fresh: new GUST_HOME (PGlite created and migrated) or a new empty Postgres database; restart: the same home or database again.",
      `Idle RSS: the task's whole process tree (deno task, Gust, warm runner processes) ${o.idleSeconds} s after the DAGs were parsed. Peak under load: the same tree sampled every 200 ms during the first ${o.loadSeconds} s of the fan-out (or all of it, if shorter) in that one process (worker concurrency 4, the default), on Postgres.`,
    ],
    seconds: (performance.now() - started) / 1000,
  };
}
