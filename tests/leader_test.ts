/**
 * Leader election, stepped by hand: what a frozen or deposed leader may still do. The process
 * faults themselves (SIGKILL, SIGSTOP, a terminated backend) are in ha_test.ts.
 */
import assert from "node:assert/strict";
import { LeaderElection, NotLeaderError } from "../scheduler/leader.ts";
import { postgresDb } from "../db/client.ts";
import { openTestDb } from "./helpers.ts";

const HAS_POSTGRES = Boolean(Deno.env.get("TEST_DATABASE_URL"));

Deno.test({
  name: "a leader that stops renewing is evicted, and its later leader-only writes are refused",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const info = await openTestDb("postgres");
    // Long enough that a busy machine cannot make a step outlast the lease by accident.
    const LEASE_MS = 2500;
    const a = new LeaderElection(info.db, { id: "a", hostname: "h", leaseMs: LEASE_MS });
    const b = new LeaderElection(info.db, { id: "b", hostname: "h", leaseMs: LEASE_MS });
    try {
      await t.step("the first to try leads; the other stands by", async () => {
        await a.step();
        await b.step();
        assert.equal(a.isLeader(), true);
        assert.equal(b.isLeader(), false);
        await info.db.begin((tx) => a.fence(tx)); // the leader passes the fence
        await assert.rejects(info.db.begin((tx) => b.fence(tx)), NotLeaderError);
      });

      await t.step("while the lease is live, a standby does not take over", async () => {
        await b.step();
        assert.equal(b.isLeader(), false);
      });

      await t.step("a leader that stops renewing (frozen) stops believing it leads", async () => {
        await new Promise((r) => setTimeout(r, LEASE_MS + 100));
        assert.equal(a.isLeader(), false, "its own clock says the lease ran out");
      });

      await t.step(
        "a standby evicts the expired holder and leads with a higher epoch",
        async () => {
          await b.step(); // sees the expired lease: terminates a's backend
          await new Promise((r) => setTimeout(r, 200));
          await b.step(); // takes the lock and the lease
          assert.equal(b.isLeader(), true);
          const [lease] = await info.db.sql<{ holder: string; epoch: number }>`
          SELECT holder, epoch::int AS epoch FROM scheduler_lease`;
          assert.deepEqual(lease, { holder: "b", epoch: 2 });
        },
      );

      await t.step(
        "the old leader, resuming, is refused and finds it no longer leads",
        async () => {
          await assert.rejects(info.db.begin((tx) => a.fence(tx)), NotLeaderError);
          await a.step(); // its session was terminated; it reconnects as a standby
          assert.equal(a.isLeader(), false);
          await info.db.begin((tx) => b.fence(tx));
        },
      );

      await t.step("a leader that stops hands over at once", async () => {
        await b.stop();
        for (let i = 0; i < 50 && !a.isLeader(); i++) {
          await a.step();
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(a.isLeader(), true);
      });
    } finally {
      await a.stop();
      await b.stop();
      await info.close();
    }
  },
});

Deno.test({
  name: "a leader frozen inside a fenced transaction does not block the takeover",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const info = await openTestDb("postgres");
    // The frozen leader is another process: a pool of its own, as in production.
    const frozenDb = postgresDb(info.url!);
    const LEASE_MS = 1500;
    const a = new LeaderElection(frozenDb, { id: "a", hostname: "h", leaseMs: LEASE_MS });
    const b = new LeaderElection(info.db, { id: "b", hostname: "h", leaseMs: LEASE_MS });
    let release = () => {};
    try {
      await a.step();
      assert.equal(a.isLeader(), true);
      // a freezes in the middle of a leader-only write: the fence holds the lease row FOR SHARE.
      const fenced = frozenDb.begin(async (tx) => {
        await a.fence(tx);
        await new Promise<void>((r) => (release = r));
      });
      fenced.catch(() => {});
      await new Promise((r) => setTimeout(r, LEASE_MS + 200));

      await b.step(); // evicts: a's session and the connection inside the fenced transaction
      const took = (async () => {
        for (let i = 0; i < 40 && !b.isLeader(); i++) {
          await b.step();
          await new Promise((r) => setTimeout(r, 50));
        }
        return b.isLeader();
      })();
      const leads = await Promise.race([
        took,
        new Promise<string>((r) => setTimeout(() => r("blocked"), 10_000)),
      ]);
      assert.equal(leads, true, "the standby took over without waiting for the frozen leader");
      release();
      await assert.rejects(fenced, "the frozen leader's transaction was ended, not committed");
      const [lease] = await info.db.sql<{ holder: string }>`SELECT holder FROM scheduler_lease`;
      assert.equal(lease.holder, "b");
    } finally {
      release();
      await a.stop();
      await b.stop();
      await frozenDb.close();
      await info.close();
    }
  },
});
