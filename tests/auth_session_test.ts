/**
 * Dashboard sessions as a browser lives them: the cookie's flags (Secure only over TLS), ids
 * stored only hashed, a new id at every login, logout, idle and absolute expiry (on an injected
 * clock), revocation on a password change, a reset and a deactivation, the way to the login
 * page and back (never off the site), and cross-site posts refused before anything happens.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../auth/secrets.ts";
import type { Db } from "../db/client.ts";
import { findUserByName } from "../db/users.ts";
import { urls } from "../views/format.ts";
import {
  authTestApp,
  cookieOf,
  createTestUser,
  login,
  ORIGIN,
  signTestJwt,
  TEST_PASSWORD,
} from "./auth_helpers.ts";
import { dbTest, TestClock } from "./helpers.ts";
import { fakeDag, parse, storeFakeDag } from "./ui_helpers.ts";

const MINUTE = 60_000;

async function setup(db: Db) {
  const clock = new TestClock(new Date());
  const app = authTestApp(db, {
    clock: clock.now,
    auth: { sessionIdleMs: 30 * MINUTE, sessionMaxMs: 120 * MINUTE },
  });
  await storeFakeDag(db, fakeDag("s_dag"));
  await createTestUser(db, "ada", "User");
  await createTestUser(db, "bob", "User");
  await createTestUser(db, "root", "Admin");
  /** A page as the holder of `cookie` gets it: 200, or where it was sent. */
  const visit = async (cookie: string, path = "/") => {
    const res = await app.request(path, { headers: { cookie } });
    await res.body?.cancel();
    return res.status === 200 ? "ok" : `${res.status} ${res.headers.get("location")}`;
  };
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string>) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  return { app, clock, visit, post };
}

const flags = (res: Response) =>
  res.headers.getSetCookie().find((h) => h.startsWith("gust_session="))!.split(/;\s*/).slice(1)
    .map((f) => f.toLowerCase()).sort();

dbTest(
  "the session cookie: HttpOnly, SameSite=Lax, Secure over TLS, an id kept only hashed",
  async (t, db) => {
    const { app, post } = await setup(db);
    const form = { username: "ada", password: TEST_PASSWORD };

    await t.step(
      "over plain http the cookie is HttpOnly and SameSite=Lax, not Secure",
      async () => {
        const res = await post("/login", form, { origin: ORIGIN });
        assert.equal(res.status, 303);
        assert.equal(res.headers.get("location"), "/");
        assert.deepEqual(flags(res), ["httponly", "max-age=7200", "path=/", "samesite=lax"]);
      },
    );

    await t.step("over https, or behind a proxy that says so, it is Secure too", async () => {
      const tls = await app.request("https://localhost/login", {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://localhost",
        },
        body: new URLSearchParams(form).toString(),
      });
      assert.ok(flags(tls).includes("secure"), flags(tls).join("; "));
      const proxied = await post("/login", form, { origin: ORIGIN, "x-forwarded-proto": "https" });
      assert.ok(flags(proxied).includes("secure"));
    });

    await t.step("ids are random and only their SHA-256 is stored", async () => {
      const a = (await login(app, "ada")).split("=")[1];
      const b = (await login(app, "ada")).split("=")[1];
      assert.notEqual(a, b);
      assert.match(a, /^[A-Za-z0-9_-]{43}$/);
      const stored = (await db.sql<{ h: string }>`SELECT id_hash AS h FROM user_session`).map((r) =>
        r.h
      );
      assert.ok(stored.includes(await sha256Hex(a)));
      assert.ok(!stored.includes(a) && !stored.includes(b), "the raw id is nowhere");
    });
  },
);

dbTest("sessions rotate at login, end at logout, and expire when idle or old", async (t, db) => {
  const { app, clock, visit, post } = await setup(db);

  await t.step("logging in again replaces the browser's session, whoever's it was", async () => {
    const first = await login(app, "ada");
    const second = await login(app, "ada", TEST_PASSWORD, { cookie: first });
    assert.notEqual(second, first);
    assert.equal(await visit(second), "ok");
    assert.match(await visit(first), /^302 \/login/);
    // A session planted in the browser (another user's) does not survive the victim's login.
    const planted = await login(app, "bob");
    const victim = await login(app, "ada", TEST_PASSWORD, { cookie: planted });
    assert.match(await visit(planted), /^302 \/login/);
    assert.equal(await visit(victim), "ok");
  });

  await t.step("logout ends the session and clears the cookie", async () => {
    const cookie = await login(app, "ada");
    const res = await post("/logout", {}, { origin: ORIGIN, cookie });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/login");
    const cleared = res.headers.getSetCookie().find((h) => h.startsWith("gust_session="))!;
    assert.match(cleared, /^gust_session=;.*Max-Age=0/i);
    assert.match(await visit(cookie), /^302 \/login/);
  });

  await t.step("a session idle past its timeout ends; one in use goes on", async () => {
    const cookie = await login(app, "ada");
    clock.advance(29 * MINUTE);
    assert.equal(await visit(cookie), "ok");
    clock.advance(29 * MINUTE);
    assert.equal(await visit(cookie), "ok", "each request renews the idle timeout");
    clock.advance(31 * MINUTE);
    assert.match(await visit(cookie), /^302 \/login/);
  });

  await t.step("a session ends at its absolute expiry, however busy", async () => {
    const cookie = await login(app, "ada");
    for (let i = 0; i < 5; i++) {
      clock.advance(20 * MINUTE);
      assert.equal(await visit(cookie), "ok", `after ${(i + 1) * 20} minutes`);
    }
    clock.advance(21 * MINUTE); // 121 minutes after the login
    assert.match(await visit(cookie), /^302 \/login/);
  });
});

dbTest("a password change, a reset or a deactivation ends sessions and JWTs", async (t, db) => {
  const { app, clock, visit, post } = await setup(db);
  const api = async (jwt: string) => {
    const res = await app.request("/api/v2/dags", { headers: { authorization: `Bearer ${jwt}` } });
    await res.body?.cancel();
    return res.status;
  };

  await t.step("changing one's password ends the other sessions and old JWTs", async () => {
    const here = await login(app, "ada");
    const elsewhere = await login(app, "ada");
    const jwt = await signTestJwt((await findUserByName(db.sql, "ada"))!, clock.now());
    assert.equal(await api(jwt), 200);
    const res = await post("/account/password", {
      current: TEST_PASSWORD,
      new: "a brand new password",
      confirm: "a brand new password",
    }, { origin: ORIGIN, cookie: here });
    assert.equal(res.status, 200);
    assert.match(parse(await res.text()).querySelector(".notice.ok")!.textContent!, /changed/);
    const renewed = cookieOf(res)!;
    assert.ok(renewed && renewed !== here, "this browser gets a new session");
    assert.equal(await visit(renewed), "ok");
    assert.match(await visit(here), /^302 \/login/);
    assert.match(await visit(elsewhere), /^302 \/login/);
    assert.equal(await api(jwt), 401, "a JWT from before the change");
    await assert.rejects(() => login(app, "ada"), /Login of ada failed: 401/);
    assert.ok(await login(app, "ada", "a brand new password"));
  });

  await t.step("a wrong current password or a short new one changes nothing", async () => {
    const cookie = await login(app, "ada", "a brand new password");
    const wrong = await post("/account/password", {
      current: "not it",
      new: "another new password",
      confirm: "another new password",
    }, { origin: ORIGIN, cookie });
    assert.equal(wrong.status, 422);
    assert.match(await wrong.text(), /The current password is wrong/);
    const short = await post("/account/password", {
      current: "a brand new password",
      new: "short",
      confirm: "short",
    }, { origin: ORIGIN, cookie });
    assert.equal(short.status, 422);
    assert.match(await short.text(), /at least 12 characters/);
    assert.equal(await visit(cookie), "ok");
  });

  await t.step("an Admin's reset and deactivation end the user's sessions and JWTs", async () => {
    const admin = await login(app, "root");
    const bob = await login(app, "bob");
    const bobJwt = await signTestJwt((await findUserByName(db.sql, "bob"))!, clock.now());
    clock.advance(1000);
    const reset = await post("/admin/users/bob/password", {}, { origin: ORIGIN, cookie: admin });
    assert.equal(reset.status, 200);
    const password = parse(await reset.text()).querySelector("#secret")!.textContent!;
    assert.match(await visit(bob), /^302 \/login/);
    assert.equal(await api(bobJwt), 401);
    const again = await login(app, "bob", password);
    const off = await post("/admin/users/bob/active", { active: "false" }, {
      origin: ORIGIN,
      cookie: admin,
    });
    assert.equal(off.status, 200);
    await off.body?.cancel();
    assert.match(await visit(again), /^302 \/login/);
    await assert.rejects(() => login(app, "bob", password), /401/);
  });
});

dbTest("the way to the login page and back stays on this site", async (t, db) => {
  const { app, post } = await setup(db);

  await t.step("a page sends to the login page with itself as `next`", async () => {
    const res = await app.request(`${urls.dag("s_dag")}/runs?page=2`);
    assert.equal(res.status, 302);
    assert.equal(
      res.headers.get("location"),
      `/login?next=${encodeURIComponent("/dags/s_dag/runs?page=2")}`,
    );
    const page = parse(await (await app.request(res.headers.get("location")!)).text());
    assert.equal(
      page.querySelector('input[name="next"]')!.getAttribute("value"),
      "/dags/s_dag/runs?page=2",
    );
  });

  await t.step("an htmx request gets 401 with HX-Redirect to the page it came from", async () => {
    const res = await app.request(urls.dag("s_dag"), {
      headers: { "hx-request": "true", "hx-current-url": `${ORIGIN}/dags/s_dag/graph` },
    });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get("hx-redirect"),
      `/login?next=${encodeURIComponent("/dags/s_dag/graph")}`,
    );
    const foreign = await app.request(urls.dag("s_dag"), {
      headers: { "hx-request": "true", "hx-current-url": "https://evil.example/x" },
    });
    assert.equal(foreign.headers.get("hx-redirect"), "/login");
  });

  await t.step("after logging in, `next` leads only to a path of this site", async () => {
    const cases: [string, string][] = [
      ["/dags/s_dag", "/dags/s_dag"],
      ["/?q=a", "/?q=a"],
      ["//evil.example/", "/"],
      ["https://evil.example/", "/"],
      ["/\\evil.example", "/"],
      ["/\t/evil.example", "/"],
      ["javascript:alert(1)", "/"],
      ["/login?next=/x", "/"],
    ];
    for (const [next, expected] of cases) {
      const res = await post("/login", { username: "ada", password: TEST_PASSWORD, next }, {
        origin: ORIGIN,
      });
      assert.equal(res.headers.get("location"), expected, JSON.stringify(next));
    }
  });

  await t.step("the login page of a signed-in browser goes straight on", async () => {
    const cookie = await login(app, "ada");
    const res = await app.request("/login?next=%2Fdags%2Fs_dag", { headers: { cookie } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/dags/s_dag");
  });
});

dbTest("cross-site posts are refused before anything happens", async (t, db) => {
  const { app, post } = await setup(db);
  const audit = async () =>
    (await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log`)[0].n;
  const paused = async () =>
    (await db.sql<{ p: boolean }>`SELECT is_paused AS p FROM dag WHERE dag_id = 's_dag'`)[0].p;

  await t.step(
    "the login form, posted from another origin, logs no one in and records nothing",
    async () => {
      const before = await audit();
      for (
        const headers of [
          { origin: "https://evil.example" },
          { "sec-fetch-site": "cross-site" },
          { origin: "null" },
          {},
        ] as Record<string, string>[]
      ) {
        const res = await post("/login", { username: "ada", password: TEST_PASSWORD }, headers);
        assert.equal(res.status, 403, JSON.stringify(headers));
        assert.equal(cookieOf(res), null);
      }
      assert.equal(await audit(), before);
    },
  );

  await t.step("an action with a valid session, from another origin, changes nothing", async () => {
    const cookie = await login(app, "ada");
    const before = await audit();
    for (const origin of ["https://evil.example", "http://localhost.evil.example"]) {
      const res = await post(urls.pause("s_dag"), { paused: "true" }, { origin, cookie });
      assert.equal(res.status, 403);
      const trigger = await post(urls.trigger("s_dag"), {}, { origin, cookie });
      assert.equal(trigger.status, 403);
    }
    assert.equal(await paused(), false);
    assert.equal((await db.sql`SELECT 1 FROM dag_run`).length, 0);
    assert.equal(await audit(), before);
    const same = await post(urls.pause("s_dag"), { paused: "true" }, { origin: ORIGIN, cookie });
    assert.equal(same.status, 303, "the same post from the site itself works");
    assert.equal(await paused(), true);
  });

  await t.step("the API takes no cookie: a session alone is not authenticated", async () => {
    const cookie = await login(app, "ada");
    const res = await app.request("/api/v2/dags/s_dag", {
      method: "PATCH",
      headers: { cookie, "content-type": "text/plain" },
      body: JSON.stringify({ is_paused: false }),
    });
    assert.equal(res.status, 401);
    assert.equal(await paused(), true);
  });
});
