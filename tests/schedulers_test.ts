/** The dashboard and /health show each scheduler, its last heartbeat, and which one leads. */
import assert from "node:assert/strict";
import { dbTest } from "./helpers.ts";
import { getPage, testApp } from "./ui_helpers.ts";

dbTest("the DAG list and /health show every scheduler and which one leads", async (_t, db) => {
  await db.sql`
    INSERT INTO scheduler_instance (id, hostname, pid, started_at, last_heartbeat, is_leader)
    VALUES ('alpha:1:aa', 'alpha', 1, now(), now(), true),
      ('beta:2:bb', 'beta', 2, now(), now(), false),
      ('gamma:3:cc', 'gamma', 3, now() - interval '1 hour', now() - interval '10 minutes', true)`;
  const { doc } = await getPage(testApp(db), "/");
  const items = [...doc.querySelectorAll("#schedulers li")].map((li) => li.textContent ?? "");
  assert.equal(items.length, 3);
  assert.match(items.find((t) => t.includes("alpha:1:aa"))!, /leader/);
  assert.match(items.find((t) => t.includes("beta:2:bb"))!, /standby/);
  assert.match(items.find((t) => t.includes("gamma:3:cc"))!, /gone/, "a silent one does not lead");

  const health = await testApp(db).request("/health");
  assert.equal(health.status, 200);
  const body = await health.json();
  const byId = Object.fromEntries(
    body.schedulers.map((s: { id: string }) => [s.id, s]),
  );
  assert.equal(byId["alpha:1:aa"].is_leader, true);
  assert.equal(byId["beta:2:bb"].is_leader, false);
  assert.deepEqual([byId["gamma:3:cc"].is_leader, byId["gamma:3:cc"].status], [false, "unhealthy"]);
});
