/**
 * Workload 4, trigger to start: from a request that starts a run to its first task's function
 * starting (measured inside the task). Webhooks do not exist
 * yet, so the request is the REST API's `POST /api/v2/dags/{dag_id}/dagRuns`, which is also
 * what `gust dags trigger` sends. Sequential triggers, each after the previous run ended, on a
 * warm Gust (all roles in one process) on Postgres and on PGlite.
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
import { triggerDag, webhookDag } from "../lib/dags.ts";
import { webhook } from "../lib/gust.ts";

const SECRET = "bench-secret";

export interface TriggerOptions {
  /** Triggers per repetition. */
  perRep: number;
  backends: ("postgres" | "pglite")[];
}

async function measure(
  ctx: BenchContext,
  backend: "postgres" | "pglite",
  perRep: number,
): Promise<{ latencies: number[][]; answers: number[]; via: "webhook" | "api" }> {
  // The webhook DAG has a file of its own: where webhooks are not built yet it is an import
  // error and the API DAG is measured instead.
  const dags = await writeDagFolder({ ...triggerDag(), ...webhookDag() });
  const home = await Deno.makeTempDir({ prefix: "gust_bench_home_" });
  const database = backend === "postgres" ? await createDatabase(ctx.adminUrl!, "trigger") : null;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gust = startGust({
    env: gustEnv({
      url: database?.url ?? null,
      home,
      dags,
      port,
      extra: { GUST_WEBHOOK_SECRET_BENCH_WEBHOOK: SECRET, GUST_WEBHOOK_RATE_LIMIT: "100000/1m" },
    }),
  });
  const reps: Triggered[][] = [];
  let via: "webhook" | "api" = "api";
  let dagId = "bench_trigger";
  let db: Db | null = database?.db ?? null;
  try {
    await waitHealthy(base, gust.startedAt);
    if (db) await waitForDags(db, 1);
    else await waitForDagsApi(base, ["bench_trigger"]);
    await new Promise((r) => setTimeout(r, 1000)); // both files parsed, or one failed
    let n = 0;
    const send = async () => {
      if (via === "webhook") return (await webhook(base, dagId, SECRET, { n: n++ }))!;
      return await trigger(base, dagId);
    };
    if (await webhook(base, "bench_webhook", SECRET, { probe: true }).catch(() => null)) {
      via = "webhook";
      dagId = "bench_webhook";
    }
    for (let r = -1; r < ctx.reps; r++) {
      const batch: Triggered[] = [];
      for (let i = 0; i < (r < 0 ? 2 : perRep); i++) {
        const t = await send();
        if (db) await waitRunDb(db, dagId, t.runId, 60_000, 5);
        else await waitRunApi(base, dagId, t.runId, 60_000);
        batch.push(t);
        await new Promise((r) => setTimeout(r, 50)); // a quiet moment, as between real requests
      }
      if (r >= 0) reps.push(batch); // the first two warm the runner and are dropped
    }
  } catch (error) {
    throw new Error(`${(error as Error).message}\nGust's output:\n${gust.output().slice(-3000)}`);
  } finally {
    await gust.stop();
  }
  try {
    db ??= await openEmbedded(home);
    const latencies: number[][] = [];
    const answers: number[] = [];
    for (const batch of reps) {
      const rep: number[] = [];
      for (const t of batch) {
        const [first] = await taskTimings(db, dagId, t.runId);
        rep.push(first.start - t.sentAt);
        answers.push(t.answerMs);
      }
      latencies.push(rep);
    }
    return { latencies, answers, via };
  } finally {
    if (database) await database.drop();
    else await db?.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(dags, { recursive: true }).catch(() => {});
  }
}

export async function runTrigger(
  ctx: BenchContext,
  o: TriggerOptions = { perRep: 20, backends: ["postgres", "pglite"] },
): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  const vias = new Set<string>();
  for (const backend of o.backends) {
    if (backend === "postgres" && !ctx.adminUrl) continue;
    ctx.log(`trigger: Gust on ${backend}`);
    const { latencies, answers, via } = await measure(ctx, backend, o.perRep);
    vias.add(via);
    const what = via === "webhook" ? "webhook" : "API trigger";
    const system = `Gust (${backend === "postgres" ? "Postgres" : "PGlite"})`;
    figures.push(
      figure({
        system,
        metric: `${what} to first task, p50`,
        unit: "ms",
        better: "lower",
        samples: latencies.map(median),
        target: 25,
      }),
      figure({
        system,
        metric: `${what} to first task, p95`,
        unit: "ms",
        better: "lower",
        samples: latencies.map(p95),
      }),
      figure({
        system,
        metric: `${what}: answer (run created), p50`,
        unit: "ms",
        better: "lower",
        samples: [median(answers)],
      }),
    );
  }
  return {
    id: "trigger",
    title: "4. Trigger to first task",
    figures,
    notes: [
      vias.has("webhook")
        ? `Request: a signed \`POST /webhooks/bench_webhook\` (X-Gust-Timestamp and X-Gust-Signature, a distinct JSON body each time, rate limit raised for the benchmark); ${o.perRep} sequential requests per repetition, p50 and p95 per repetition.`
        : `Webhooks (\`POST /webhooks/<dag_id>\`) did not answer when this ran, so the request is \`POST /api/v2/dags/bench_trigger/dagRuns\`; ${o.perRep} sequential triggers per repetition, p50 and p95 per repetition.`,
      "Latency: from just before the request is sent to the start of the first task's function, as the task measured it. Gust: all roles in one process, warm runner.",
    ],
    seconds: (performance.now() - started) / 1000,
  };
}
