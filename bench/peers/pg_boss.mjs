// pg-boss, a Postgres job queue. Latency: LISTEN/NOTIFY enabled (`useListenNotify` on the
// instance, `notify: true` on the queue), so a new job wakes the worker at once instead of
// waiting out the polling interval. Throughput: fetches in batches with several local workers
// and burst mode (`burstWhenBatchFull`: fetch again at once while batches come back full).
import { PgBoss } from "pg-boss";

const QUEUE = "bench";

function settings(mode) {
  return mode === "latency"
    ? { work: { pollingIntervalSeconds: 0.5, batchSize: 1, localConcurrency: 1 }, notify: true }
    : {
      work: {
        pollingIntervalSeconds: 0.5,
        batchSize: 50,
        localConcurrency: 4,
        burstWhenBatchFull: true,
      },
      notify: true,
    };
}

async function open(o, mode) {
  const boss = new PgBoss({
    connectionString: o.url,
    useListenNotify: settings(mode).notify,
    max: 10,
  });
  boss.on("error", (error) => console.error("pg-boss:", error.message));
  await boss.start();
  return boss;
}

let producer = null;

export default {
  config: (o) => settings(o.shape === "chain" ? "latency" : "throughput"),
  async setup(o, mode) {
    producer = await open(o, mode);
    await producer.createQueue(QUEUE, { notify: settings(mode).notify, retryLimit: 0 });
  },
  async startWorker(o, mode, handler) {
    const boss = o.role === "worker" || !producer ? await open(o, mode) : producer;
    await boss.work(QUEUE, settings(mode).work, async (jobs) => {
      for (const job of jobs) await handler(job.data, (next) => boss.send(QUEUE, next));
    });
    return { stop: () => boss === producer ? boss.offWork(QUEUE) : boss.stop({ graceful: false }) };
  },
  async enqueue(_o, jobs) {
    for (let i = 0; i < jobs.length; i += 1000) {
      await producer.insert(QUEUE, jobs.slice(i, i + 1000).map((data) => ({ data })));
    }
  },
  async teardown() {
    await producer.stop({ graceful: false });
    producer = null;
  },
};
