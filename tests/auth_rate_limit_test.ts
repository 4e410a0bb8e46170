/**
 * The login rate limits: per username and per client address, shared by the login page and
 * `POST /auth/token`, kept in the database so that two web replicas count together; 429 with
 * Retry-After, the right password refused (and not even checked) while limited, and a window
 * that slides on an injected clock.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { authTestApp, createTestUser, ORIGIN, TEST_PASSWORD } from "./auth_helpers.ts";
import { dbTest, TestClock } from "./helpers.ts";

const WINDOW = 300_000;

function replica(db: Db, clock: TestClock) {
  return authTestApp(db, {
    clock: clock.now,
    auth: {
      loginRateLimit: {
        user: { count: 3, windowMs: WINDOW },
        address: { count: 5, windowMs: WINDOW },
      },
      forwardedAllowIps: [],
    },
  });
}

type App = ReturnType<typeof replica>;

/** A client at `addr` (the socket's peer, as Deno.serve reports it). */
const from = (addr: string) => ({ remoteAddr: { hostname: addr, port: 40000, transport: "tcp" } });

async function token(app: App, username: string, password: string, addr = "10.0.0.1") {
  const res = await app.request("/auth/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  }, from(addr));
  const body = await res.json();
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body };
}

async function page(app: App, username: string, password: string, addr = "10.0.0.1") {
  const res = await app.request("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
    body: new URLSearchParams({ username, password }).toString(),
  }, from(addr));
  await res.body?.cancel();
  return { status: res.status, retryAfter: res.headers.get("retry-after") };
}

const failures = async (db: Db) =>
  (await db.sql<
    { n: number }
  >`SELECT count(*)::int AS n FROM audit_log WHERE event = 'login_failed'`)[0]
    .n;

dbTest(
  "failed logins are limited per username, on both ways in and across replicas",
  async (t, db) => {
    const clock = new TestClock(new Date());
    const [a, b] = [replica(db, clock), replica(db, clock)];
    await createTestUser(db, "ada", "User");
    await createTestUser(db, "bob", "User");

    await t.step(
      "three failures, split over two replicas and both ways in, use up the name",
      async () => {
        assert.equal((await token(a, "ada", "wrong 1")).status, 401);
        assert.equal((await page(b, "ada", "wrong 2")).status, 401);
        clock.advance(10_000);
        assert.equal(
          (await token(b, "ADA", "wrong 3")).status,
          401,
          "names count whatever their case",
        );
        const limited = await token(a, "ada", "wrong 4");
        assert.equal(limited.status, 429);
        assert.deepEqual(limited.body, { detail: "Too many failed logins: try again later" });
        assert.equal(
          limited.retryAfter,
          String(WINDOW / 1000 - 10),
          "when the first failure ages out",
        );
        assert.equal((await page(b, "ada", "wrong 5")).status, 429);
      },
    );

    await t.step(
      "while limited, the right password is refused and nothing is written",
      async () => {
        const before = await failures(db);
        const right = await token(b, "ada", TEST_PASSWORD, "10.9.9.9");
        assert.equal(right.status, 429);
        assert.equal((await page(a, "ada", TEST_PASSWORD, "10.9.9.9")).status, 429);
        assert.equal(await failures(db), before, "a refused attempt is not another failure");
        assert.equal(
          (await token(a, "bob", TEST_PASSWORD, "10.9.9.9")).status,
          201,
          "other names are free",
        );
      },
    );

    await t.step("the window slides: as the failures age out, attempts come back", async () => {
      clock.advance(WINDOW - 10_000 + 1000); // the first two failures are older than the window
      assert.equal((await token(a, "ada", "wrong 6")).status, 401);
      assert.equal((await token(b, "ada", "wrong 7")).status, 401);
      assert.equal((await token(a, "ada", "wrong 8")).status, 429, "the third is still in it");
      clock.advance(10_000);
      assert.equal((await token(b, "ada", TEST_PASSWORD)).status, 201);
    });

    await t.step("a successful login starts the name's count afresh", async () => {
      // wrong 6 and 7 are in the window still, but older than the successful login.
      assert.equal((await token(a, "ada", "wrong 9")).status, 401);
      assert.equal((await token(a, "ada", "wrong 10")).status, 401);
      assert.equal((await token(a, "ada", "wrong 11")).status, 401);
      assert.equal((await token(a, "ada", "wrong 12")).status, 429);
    });
  },
);

dbTest("failed logins are limited per client address, whatever the names", async (t, db) => {
  const clock = new TestClock(new Date());
  const app = replica(db, clock);
  await createTestUser(db, "ada", "User");

  await t.step("five failures from one address, over five names, block that address", async () => {
    for (const name of ["u1", "u2", "u3", "u4", "u5"]) {
      assert.equal((await page(app, name, "guess", "192.0.2.7")).status, 401);
    }
    const limited = await page(app, "u6", "guess", "192.0.2.7");
    assert.equal(limited.status, 429);
    assert.equal(limited.retryAfter, String(WINDOW / 1000));
    assert.equal((await token(app, "ada", TEST_PASSWORD, "192.0.2.7")).status, 429);
  });

  await t.step("another address is not limited", async () => {
    assert.equal((await token(app, "ada", TEST_PASSWORD, "192.0.2.8")).status, 201);
  });

  await t.step("behind a trusted proxy, X-Forwarded-For names the client", async () => {
    const proxied = authTestApp(db, {
      clock: clock.now,
      auth: {
        loginRateLimit: { user: null, address: { count: 5, windowMs: WINDOW } },
        forwardedAllowIps: ["127.0.0.1"],
      },
    });
    const via = async (client: string, peer = "127.0.0.1") => {
      const res = await proxied.request("/auth/token", {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": `${client}, 127.0.0.1` },
        body: JSON.stringify({ username: "ada", password: TEST_PASSWORD }),
      }, from(peer));
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await via("192.0.2.7"), 429, "the limited client, through the proxy");
    assert.equal(await via("192.0.2.9"), 201, "another client, through the same proxy");
    // An untrusted peer cannot escape its own limit by naming someone else.
    assert.equal(await via("198.51.100.1", "192.0.2.7"), 429);
  });
});

dbTest("a burst of parallel guesses is held to the limit", async (_t, db) => {
  const clock = new TestClock(new Date());
  const app = replica(db, clock);
  await createTestUser(db, "ada", "User");
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => token(app, "ada", `guess ${i}`, `10.1.0.${i}`)),
  );
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(" "));
  assert.equal(statuses.filter((s) => s === 429).length, 9, statuses.join(" "));
});
