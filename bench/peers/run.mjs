// Entry point for the peer benchmarks; see common.mjs. Run from bench/.peers, where the
// harness copies these files next to the installed packages.
import { fileURLToPath } from "node:url";
import { main } from "./common.mjs";
import graphileWorker from "./graphile_worker.mjs";
import pgBoss from "./pg_boss.mjs";
import bullmq from "./bullmq.mjs";

await main(
  { "graphile-worker": graphileWorker, "pg-boss": pgBoss, bullmq },
  fileURLToPath(import.meta.url),
).catch((error) => {
  console.error(error);
  process.exit(1);
});
