// BullMQ, a Redis job queue. Latency: its defaults (one job at a time; workers block on Redis
// for new jobs). Throughput: high worker concurrency, jobs added with `addBulk`, and completed
// jobs removed at once so Redis does not keep 10,000 of them.
import { Queue, Worker } from "bullmq";

const connection = { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null };

function settings(mode) {
  return mode === "latency"
    ? { concurrency: 1, removeOnComplete: { count: 100 } }
    : { concurrency: 50, removeOnComplete: { count: 0 } };
}

let queue = null;

export default {
  config: (o) => settings(o.shape === "chain" ? "latency" : "throughput"),
  async setup(o) {
    queue = new Queue(o.queue, { connection, prefix: "gust_bench" });
    await queue.obliterate({ force: true }).catch(() => {});
  },
  async startWorker(o, mode, handler) {
    const q = queue ?? new Queue(o.queue, { connection, prefix: "gust_bench" });
    const worker = new Worker(o.queue, async (job) => {
      await handler(job.data, (next) => q.add("job", next));
    }, { connection, prefix: "gust_bench", ...settings(mode) });
    await worker.waitUntilReady();
    return {
      async stop() {
        await worker.close(true);
        if (q !== queue) await q.close();
      },
    };
  },
  async enqueue(_o, jobs) {
    for (let i = 0; i < jobs.length; i += 1000) {
      await queue.addBulk(jobs.slice(i, i + 1000).map((data) => ({ name: "job", data })));
    }
  },
  async teardown() {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    queue = null;
  },
};
