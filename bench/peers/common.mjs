// Shared driver for the peer benchmarks: the same two shapes Gust runs (a chain where each job
// enqueues the next, and a fan-out of no-op jobs drained by 1..n worker processes), timed the
// same way (a job's start and end as its handler saw them, in epoch milliseconds).
//
// Usage: node run.mjs <peer> '<json options>'. The last line printed is `RESULT <json>`.
// Workers (child processes) print `READY`, then `PROGRESS <count> <firstStart> <lastEnd>`
// lines, and a final `FINAL ...` line when told to stop (SIGTERM).
import { spawn } from "node:child_process";

export const now = () => performance.timeOrigin + performance.now();

export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The chain: job i computes fib(10) and enqueues job i + 1. One process, latency settings. */
async function chain(peer, o) {
  const timings = new Array(o.steps);
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await peer.setup(o, "latency");
  const worker = await peer.startWorker(o, "latency", async (data, add) => {
    const start = now();
    fib(10);
    if (data.step + 1 < o.steps) await add({ step: data.step + 1 });
    const end = now();
    timings[data.step] = { start, end };
    if (data.step + 1 === o.steps) done();
  });
  await sleep(300); // let the worker's listener settle, as a long-running worker would be
  const sentAt = now();
  await peer.enqueue(o, [{ step: 0 }]);
  await finished;
  await worker.stop();
  await peer.teardown(o);
  const gaps = [];
  for (let i = 1; i < o.steps; i++) gaps.push(timings[i].start - timings[i - 1].end);
  return { sentAt, lastEnd: timings[o.steps - 1].end, gaps };
}

/** A worker process for the fan-out: runs no-op jobs and reports its counts. */
async function fanoutWorker(peer, o) {
  let count = 0;
  let firstStart = Infinity;
  let lastEnd = 0;
  const worker = await peer.startWorker(o, "throughput", () => {
    const start = now();
    firstStart = Math.min(firstStart, start);
    count++;
    lastEnd = Math.max(lastEnd, now());
  });
  const report = (tag) => process.stdout.write(`${tag} ${count} ${firstStart} ${lastEnd}\n`);
  const timer = setInterval(() => report("PROGRESS"), 50);
  process.on("SIGTERM", async () => {
    clearInterval(timer);
    report("FINAL");
    await worker.stop().catch(() => {});
    process.exit(0);
  });
  process.stdout.write("READY\n");
}

/** The fan-out: enqueue `tasks` jobs in bulk, drained by `workers` child processes. */
async function fanout(peer, o, script) {
  await peer.setup(o, "throughput");
  const children = [];
  const state = [];
  for (let w = 0; w < o.workers; w++) {
    const child = spawn(process.execPath, [
      script,
      o.peer,
      JSON.stringify({ ...o, role: "worker" }),
    ], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    state[w] = { ready: false, count: 0, firstStart: Infinity, lastEnd: 0, final: false };
    let buffer = "";
    child.stdout.on("data", (chunk) => {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        if (line === "READY") state[w].ready = true;
        const m = /^(PROGRESS|FINAL) (\d+) (\S+) (\S+)$/.exec(line);
        if (m) {
          Object.assign(state[w], { count: +m[2], firstStart: +m[3], lastEnd: +m[4] });
          if (m[1] === "FINAL") state[w].final = true;
        }
      }
    });
    children.push(child);
  }
  const deadline = Date.now() + 120_000;
  while (!state.every((s) => s.ready)) {
    if (Date.now() > deadline) throw new Error("workers did not start");
    await sleep(20);
  }
  await sleep(300);
  const jobs = Array.from({ length: o.tasks }, (_, i) => ({ i }));
  const enqueueStart = now();
  await peer.enqueue(o, jobs);
  const enqueueMs = now() - enqueueStart;
  const end = Date.now() + (o.timeoutMs ?? 600_000);
  while (state.reduce((n, s) => n + s.count, 0) < o.tasks) {
    if (Date.now() > end) throw new Error(`fan-out timed out at ${state.map((s) => s.count)}`);
    await sleep(20);
  }
  for (const child of children) child.kill("SIGTERM");
  while (!state.every((s) => s.final)) await sleep(20);
  await peer.teardown(o);
  const firstStart = Math.min(...state.map((s) => s.firstStart));
  const lastEnd = Math.max(...state.map((s) => s.lastEnd));
  const count = state.reduce((n, s) => n + s.count, 0);
  return { count, firstStart, lastEnd, enqueueMs, perWorker: state.map((s) => s.count) };
}

export async function main(peers, script) {
  const [name, json] = process.argv.slice(2);
  const peer = peers[name];
  if (!peer) throw new Error(`unknown peer ${name}`);
  const o = { ...JSON.parse(json), peer: name };
  if (o.role === "worker") return await fanoutWorker(peer, o);
  const result = o.shape === "chain" ? await chain(peer, o) : await fanout(peer, o, script);
  process.stdout.write(`RESULT ${JSON.stringify({ ...result, config: peer.config(o) })}\n`);
  process.exit(0);
}
