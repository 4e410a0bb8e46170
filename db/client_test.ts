/**
 * The Postgres driver under a lost connection. postgres.js 3.4.9 throws an uncatchable
 * TypeError (porsager/postgres#1208) when a query is written to a connection that has closed;
 * inside a transaction that happens whenever its backend is terminated or the server restarts
 * mid-transaction. These tests would crash the test process without the guard in client.ts.
 * And a transaction that loses a deadlock, run again by `beginRetrying`.
 */
import assert from "node:assert/strict";
import { beginRetrying, postgresDb } from "./client.ts";
import { openTestDb, within } from "../tests/helpers.ts";

const HAS_POSTGRES = Boolean(Deno.env.get("TEST_DATABASE_URL"));
const settle = () => new Promise((r) => setTimeout(r, 100));

Deno.test({
  name: "a transaction whose backend is terminated rejects, and later queries in it do not crash",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const info = await openTestDb("postgres");
    const db = postgresDb(info.url!, { max: 2 });
    try {
      await t.step("terminated while the transaction's code waits between queries", async () => {
        // A gate, not a callback set inside: the transaction can reject (its connection closed)
        // before the code inside it has even heard back from pg_terminate_backend.
        let resume = () => {};
        const resumed = new Promise<void>((r) => (resume = r));
        let reportLater: (outcome: unknown) => void = () => {};
        const later = new Promise((r) => (reportLater = r));
        const tx = db.begin(async (sql) => {
          const [{ pid }] = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`;
          await info.db.sql`SELECT pg_terminate_backend(${pid})`;
          await resumed;
          await sql`SELECT 1`.then(() => reportLater("answered"), (e) => reportLater(e));
        });
        await assert.rejects(within(20, "the transaction", tx));
        resume();
        const outcome = await within(20, "the query after the loss", later);
        assert.ok(outcome instanceof Error, "a query after the loss is refused");
        await settle();
      });

      await t.step("terminated while a query of the transaction runs", async () => {
        const tx = db.begin(async (sql) => {
          const [{ pid }] = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`;
          const sleeping = sql`SELECT pg_sleep(5)`;
          await new Promise((r) => setTimeout(r, 100));
          await info.db.sql`SELECT pg_terminate_backend(${pid})`;
          await sleeping.catch(() => {});
          await sql`SELECT 1`; // the code goes on after the error, as a catch block would
        });
        await assert.rejects(within(20, "the transaction", tx));
        await settle();
      });

      await t.step("the pool still works afterwards", async () => {
        const [row] = await within(20, "a query", db.sql<{ n: number }>`SELECT 1 AS n`);
        assert.equal(row.n, 1);
        const begun = db.begin(async (sql) => (await sql<{ n: number }>`SELECT 2 AS n`)[0].n);
        assert.equal(await within(20, "a transaction", begun), 2);
      });
    } finally {
      // About 5 s: postgres.js waits out a query it lost with its connection.
      await within(20, "closing the pool", db.close());
      await within(20, "dropping the test database", info.close());
    }
  },
});

Deno.test({
  name: "a transaction that loses a deadlock runs again with beginRetrying",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const info = await openTestDb("postgres");
    const db = postgresDb(info.url!, { max: 4 });
    try {
      await db.sql.exec(
        "CREATE TABLE pair (id int PRIMARY KEY, v int); INSERT INTO pair VALUES (1, 0), (2, 0)",
      );
      // Each transaction locks its own row, then, once both hold one, the other's: a deadlock.
      let holding = 0;
      const bothHold = async () => {
        holding++;
        while (holding < 2) await new Promise((r) => setTimeout(r, 10));
      };
      let attempts = 0;
      const crosswise = (first: number, second: number) =>
        beginRetrying(db, async (tx) => {
          attempts++;
          await tx`UPDATE pair SET v = v + 1 WHERE id = ${first}`;
          if (holding < 2) await bothHold();
          await tx`UPDATE pair SET v = v + 1 WHERE id = ${second}`;
        });
      await within(20, "both transactions", Promise.all([crosswise(1, 2), crosswise(2, 1)]));
      assert.equal(attempts, 3, "the one Postgres aborted ran again");
      const rows = await db.sql<{ v: number }>`SELECT v FROM pair ORDER BY id`;
      assert.deepEqual(rows.map((r) => r.v), [2, 2], "both committed, each once");
    } finally {
      await db.close();
      await info.close();
    }
  },
});
