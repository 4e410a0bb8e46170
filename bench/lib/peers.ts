/**
 * The peers, run in the same benchmark as Gust: graphile-worker and pg-boss (Postgres) and
 * BullMQ (Redis), installed from the npm registry into `bench/.peers/` at benchmark time
 * (never committed) and driven by the Node.js scripts in `bench/peers/`.
 */
import postgres from "postgres";
import { ROOT } from "./gust.ts";
import { median, p95 } from "./stats.ts";
import { type BenchContext, type Figure, figure } from "./result.ts";

/** Pinned so a rerun measures the same code; bump them on purpose. */
export const PEER_PACKAGES: Record<string, string> = {
  "graphile-worker": "0.18.0",
  "pg-boss": "12.38.0",
  bullmq: "6.7.0",
};
const SUPPORT = { pg: "8.23.1", ioredis: "5.11.1" };

const PEERS_DIR = `${ROOT}bench/.peers`;
const SCRIPTS = `${ROOT}bench/peers`;

/** What each peer does not do that Gust does, so ratios are read fairly. */
export const PEER_CAVEATS: Record<string, string> = {
  "graphile-worker":
    "graphile-worker runs jobs as functions inside the worker process (no sandbox, no per-task permissions, no isolation from a crashing or spinning job); it keeps no DAG, run or task-instance state, no per-try history or logs, no results passed between tasks; dependencies are whatever a job enqueues.",
  "pg-boss":
    "pg-boss runs jobs in the worker process (no sandbox); a queue has no DAG or run state, no logs and no per-try history beyond the job row; its flows are parent/child jobs, not a scheduled graph with trigger rules.",
  bullmq:
    "BullMQ keeps jobs in Redis (in memory, durability per Redis' persistence settings, here none), runs them in the worker process (no sandbox), and has flows but no DAG runs, schedules with data intervals, or task logs; completed jobs are removed in the throughput setting.",
};

let installed: Promise<void> | null = null;

async function installedVersion(name: string): Promise<string | null> {
  try {
    const pkg = JSON.parse(
      await Deno.readTextFile(`${PEERS_DIR}/node_modules/${name}/package.json`),
    );
    return pkg.version;
  } catch {
    return null;
  }
}

/** `npm install --prefix bench/.peers ...` when the pinned versions are not there yet. */
export function ensurePeers(log: (m: string) => void): Promise<void> {
  installed ??= (async () => {
    const wanted = { ...PEER_PACKAGES, ...SUPPORT };
    const missing = [];
    for (const [name, version] of Object.entries(wanted)) {
      if (await installedVersion(name) !== version) missing.push(`${name}@${version}`);
    }
    if (missing.length) {
      log(`installing peers from npm: ${missing.join(" ")}`);
      const out = await new Deno.Command("npm", {
        args: [
          "install",
          "--prefix",
          PEERS_DIR,
          "--no-audit",
          "--no-fund",
          ...Object.entries(wanted).map(([n, v]) => `${n}@${v}`),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(
          `npm install of the peers failed:\n${new TextDecoder().decode(out.stderr)}`,
        );
      }
    }
    // Next to node_modules, so the scripts' bare imports resolve.
    for await (const entry of Deno.readDir(SCRIPTS)) {
      if (entry.name.endsWith(".mjs")) {
        await Deno.copyFile(`${SCRIPTS}/${entry.name}`, `${PEERS_DIR}/${entry.name}`);
      }
    }
  })();
  return installed;
}

interface ChainResult {
  sentAt: number;
  lastEnd: number;
  gaps: number[];
  config: unknown;
}

interface FanoutResult {
  count: number;
  firstStart: number;
  lastEnd: number;
  enqueueMs: number;
  perWorker: number[];
  config: unknown;
}

async function runScript<T>(peer: string, options: Record<string, unknown>): Promise<T> {
  const out = await new Deno.Command("node", {
    args: [`${PEERS_DIR}/run.mjs`, peer, JSON.stringify(options)],
    cwd: PEERS_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("RESULT "));
  if (!out.success || !line) {
    throw new Error(
      `${peer} failed (exit ${out.code}):\n${text.slice(-2000)}\n${
        new TextDecoder().decode(out.stderr).slice(-4000)
      }`,
    );
  }
  return JSON.parse(line.slice(7)) as T;
}

/** A database for one peer run, dropped afterwards. */
async function withDatabase<T>(adminUrl: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `gust_bench_peer_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function redisUp(): Promise<boolean> {
  try {
    const out = await new Deno.Command("redis-cli", {
      args: ["-h", "127.0.0.1", "ping"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(out.stdout).trim() === "PONG";
  } catch {
    return false;
  }
}

export async function runPeers(
  ctx: BenchContext,
  shape: "chain" | "fanout",
  size: { steps?: number; tasks?: number; workers?: number[] },
): Promise<{ figures: Figure[]; notes: string[] }> {
  await ensurePeers(ctx.log);
  const figures: Figure[] = [];
  const notes: string[] = [];
  const hasRedis = await redisUp();
  for (const [peer, version] of Object.entries(PEER_PACKAGES)) {
    if (peer === "bullmq" && !hasRedis) {
      notes.push("BullMQ skipped: Redis does not answer on 127.0.0.1:6379.");
      continue;
    }
    const run = <T>(extra: Record<string, unknown>) =>
      peer === "bullmq"
        ? runScript<T>(peer, { queue: `q${crypto.randomUUID().slice(0, 8)}`, ...extra })
        : withDatabase(ctx.adminUrl!, (url) => runScript<T>(peer, { url, ...extra }));
    if (shape === "chain") {
      const system = `${peer} ${version}`;
      const totals: number[] = [];
      const p50s: number[] = [];
      const p95s: number[] = [];
      let config: unknown = null;
      for (let i = 0; i < ctx.reps; i++) {
        ctx.log(`  chain: ${peer} run ${i + 1}`);
        const r = await run<ChainResult>({ shape, steps: size.steps });
        totals.push((r.lastEnd - r.sentAt) / 1000);
        p50s.push(median(r.gaps));
        p95s.push(p95(r.gaps));
        config = r.config;
      }
      notes.push(`${peer} (chain): ${JSON.stringify(config)}`);
      figures.push(
        figure({
          system,
          metric: `${size.steps}-step chain, total`,
          unit: "s",
          better: "lower",
          samples: totals,
          compare: "chain_total",
        }),
        figure({
          system,
          metric: "step gap p50",
          unit: "ms",
          better: "lower",
          samples: p50s,
          compare: "chain_gap_p50",
        }),
        figure({
          system,
          metric: "step gap p95",
          unit: "ms",
          better: "lower",
          samples: p95s,
          compare: "chain_gap_p95",
        }),
      );
    } else {
      for (const workers of size.workers ?? [1, 2]) {
        const rates: number[] = [];
        let config: unknown = null;
        for (let i = 0; i < ctx.reps; i++) {
          ctx.log(`  fan-out: ${peer}, ${workers} worker(s), run ${i + 1}`);
          const r = await run<FanoutResult>({ shape, tasks: size.tasks, workers });
          rates.push(r.count / ((r.lastEnd - r.firstStart) / 1000));
          config = r.config;
        }
        if (workers === (size.workers ?? [1, 2])[0]) {
          notes.push(`${peer} (fan-out, per worker process): ${JSON.stringify(config)}`);
        }
        figures.push(figure({
          system: `${peer} ${version}`,
          metric: `fan-out, ${workers} worker${workers > 1 ? "s" : ""}`,
          unit: "tasks/s",
          better: "higher",
          samples: rates,
          compare: `fanout_${workers}`,
        }));
      }
    }
  }
  return { figures, notes };
}
