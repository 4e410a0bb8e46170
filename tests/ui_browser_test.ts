/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a real
 * server: Deno.serve on a free port, with a scheduler and a worker running in this process on a
 * PGlite database and a DAG folder of its own. It does what a user does: log in through the
 * login page, open the DAG list, trigger a DAG with conf from its form, watch the grid turn to
 * success without reloading, read the line a task printed in its log, clear the task and watch
 * it run again, pause the DAG, log out; and a Viewer sees the pages without their controls.
 *
 * Screenshots of the main pages are taken on the way: into docs/screenshots/ when
 * GUST_SCREENSHOTS=1 (to refresh the README's pictures), into a temporary folder otherwise.
 * One backend is enough here: the pages' queries run on both in the route tests.
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { createApp } from "../routes/mod.ts";
import { SchedulerService } from "../scheduler/service.ts";
import { WorkerService } from "../worker/service.ts";
import { urls } from "../views/format.ts";
import { createTestUser, TEST_PASSWORD, testAuth } from "./auth_helpers.ts";
import { dagFolder, openTestDb } from "./helpers.ts";
import { FLOW_DAG } from "./ui_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) console.warn(`${CHROMIUM} is missing: the browser tests are skipped`);

const SHOTS = Deno.env.get("GUST_SCREENSHOTS") === "1"
  ? new URL("../docs/screenshots/", import.meta.url).pathname
  : `${await Deno.makeTempDir({ prefix: "gust_shots_" })}/`;

async function shoot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}${name}.png` });
}

Deno.test({
  name: "the dashboard in Chromium: log in, trigger, watch, read the log, clear, pause, log out",
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const info = await openTestDb("pglite");
    const db = info.db;
    const folder = await dagFolder({ "flow.ts": FLOW_DAG });
    const scheduler = new SchedulerService({
      db,
      dagsFolder: folder,
      dagImportTimeoutMs: 20_000,
      dagRefreshIntervalMs: 60_000,
      pollIntervalMs: 200,
    });
    const worker = new WorkerService({
      db,
      dagsFolder: folder,
      workerId: "browser-test-worker",
      hostname: "localhost",
      queues: ["default"],
      concurrency: 4,
      leaseMs: 30_000,
      maxResultBytes: 1_048_576,
      runnerMemoryMb: 128,
      env: {},
      pollIntervalMs: 200,
    });
    await scheduler.start();
    await scheduler.dagsLoaded();
    await worker.start();
    await createTestUser(db, "ada", "User");
    await createTestUser(db, "vic", "Viewer");
    await createTestUser(db, "oli", "Op");
    const app = createApp({
      db,
      roles: ["web", "scheduler", "worker"],
      startedAt: new Date(),
      auth: testAuth(),
    });
    // What the server answered to the grid's htmx polls, to see the browser revalidate its copy.
    const polls: number[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const res = await app.fetch(req);
      const url = new URL(req.url);
      if (url.pathname === urls.dag("flow") && req.headers.get("HX-Request")) {
        polls.push(res.status);
      }
      return res;
    });
    const base = `http://127.0.0.1:${server.addr.port}`;
    let browser: Browser | null = null;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      page.setDefaultTimeout(20_000);

      await t.step("a page sends to the login page, which logs in and comes back", async () => {
        await page.goto(`${base}${urls.dag("flow")}/runs`);
        await page.waitForURL(/\/login\?next=/);
        await page.fill("#username", "ada");
        await page.fill("#password", "not the password");
        await page.click('#login-form button[type="submit"]');
        await page.locator("#login-error", { hasText: "Invalid username or password" }).waitFor();
        // The refused login is answered with 401, which the console reports; nothing else may.
        assert.deepEqual(problems.splice(0), [
          "console: Failed to load resource: the server responded with a status of 401 (Unauthorized)",
        ]);
        await page.fill("#password", TEST_PASSWORD);
        await page.click('#login-form button[type="submit"]');
        await page.waitForURL(`${base}${urls.dag("flow")}/runs`);
        assert.match(await page.locator("#viewer").innerText(), /ada \(User\)/);
        const [cookie] = (await context.cookies()).filter((c) => c.name === "gust_session");
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, "Lax");
        assert.equal(cookie.secure, false, "plain http: not Secure");
      });

      await t.step("the DAG list shows the DAG", async () => {
        await page.goto(`${base}/`);
        await page.locator('tr[data-dag-id="flow"]').waitFor();
        assert.match(await page.locator('tr[data-dag-id="flow"]').innerText(), /A small flow/);
        await shoot(page, "dags");
        await page.fill('input[name="q"]', "no such dag"); // the list follows as one types
        await page.locator("#dag-list", { hasText: "No DAG matches" }).waitFor();
        await page.fill('input[name="q"]', "small");
        await page.locator('tr[data-dag-id="flow"]').waitFor();
      });

      await t.step(
        "trigger with conf from the form; the grid turns green without a reload",
        async () => {
          await page.click('tr[data-dag-id="flow"] a.dag-link');
          await page.waitForURL(`${base}${urls.dag("flow")}`);
          await page.evaluate(() => Object.assign(globalThis, { stillTheSamePage: true }));
          await page.click("#trigger summary");
          await page.fill('input[name="param.name"]', "Browser");
          await page.fill('input[name="param.count"]', "5");
          await page.click('#trigger-form button[type="submit"]');
          await page.locator("#trigger-form a.created-run").waitFor();
          await page.locator("#grid a.c.s-success").nth(2).waitFor();
          assert.equal(await page.locator("#grid .runbar").getAttribute("data-state"), "success");
          assert.equal(
            await page.evaluate(() => "stillTheSamePage" in globalThis),
            true,
            "no reload",
          );
          const [run] = await db.sql<{ conf: Record<string, unknown> }>`SELECT conf FROM dag_run`;
          assert.deepEqual(run.conf, { name: "Browser", count: 5, mode: "fast", loud: false });
          await page.click("#trigger summary"); // closed, for the picture
          await shoot(page, "grid");
        },
      );

      await t.step("an unchanged grid's poll is revalidated: 304, and the grid stays", async () => {
        const before = polls.length;
        await page.evaluate(() => document.body.dispatchEvent(new Event("runs-changed")));
        for (let i = 0; i < 200 && !polls.slice(before).includes(304); i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(polls.slice(before).includes(304), `polls answered ${polls.slice(before)}`);
        assert.equal(await page.locator("#grid a.c.s-success").count(), 3);
      });

      await t.step("a task's log holds the line it printed", async () => {
        await page.click('#grid .grow[data-task-id="hello"] a.c');
        await page.locator("#log-lines .line").first().waitFor();
        assert.match(await page.locator("#log-lines").innerText(), /hello Browser/);
        assert.match(await page.locator("#result").innerText(), /"count": 5/);
        await shoot(page, "task_instance");
      });

      await t.step("clearing the task runs it again, and the page follows", async () => {
        await page.click("#clear-task");
        await page.locator("#ti-summary .notice", { hasText: "Cleared 3" }).waitFor();
        await page.locator('#ti-summary[data-state="success"][data-try="2"]').waitFor();
        assert.equal(await page.locator("#tries tbody tr").count(), 2);
      });

      await t.step("the run page and the graph", async () => {
        await page.click("#run-link");
        await page.locator("#run-details[data-state=success]").waitFor();
        assert.equal(await page.locator("#gantt rect.gantt-bar").count(), 3);
        await shoot(page, "run");
        await page.click("nav.tabs >> text=Graph");
        await page.locator('g.node[data-task-id="g.inner"][data-state="success"]').waitFor();
        await shoot(page, "graph");
      });

      await t.step("pausing the DAG from the list", async () => {
        await page.goto(`${base}/`);
        const toggle = page.locator('tr[data-dag-id="flow"] button[role=switch]');
        assert.equal(await toggle.getAttribute("aria-checked"), "true");
        await toggle.click();
        await page.locator('tr[data-dag-id="flow"] button[role=switch][aria-checked=false]')
          .waitFor();
        const [dag] = await db.sql<{ isPaused: boolean }>`SELECT is_paused AS "isPaused" FROM dag`;
        assert.equal(dag.isPaused, true);
      });

      await t.step("on a phone-sized screen, in dark mode", async () => {
        const phone = await browser!.newContext({
          viewport: { width: 390, height: 844 },
          colorScheme: "dark",
          deviceScaleFactor: 1,
          storageState: await context.storageState(),
        });
        const small = await phone.newPage();
        await small.goto(`${base}${urls.dag("flow")}`);
        await small.locator("#grid").waitFor();
        const overflow = await small.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
        await shoot(small, "grid_phone_dark");
        await phone.close();
      });

      await t.step("a Viewer sees the run but no control to change it", async () => {
        const other = await browser!.newContext();
        const viewer = await other.newPage();
        await viewer.goto(`${base}/login`);
        await viewer.fill("#username", "vic");
        await viewer.fill("#password", TEST_PASSWORD);
        await viewer.click('#login-form button[type="submit"]');
        await viewer.waitForURL(`${base}/`);
        await viewer.locator('tr[data-dag-id="flow"] .pause-state').waitFor();
        assert.equal(await viewer.locator("button[role=switch]").count(), 0);
        await viewer.click('tr[data-dag-id="flow"] a.dag-link');
        await viewer.locator("#grid").waitFor();
        assert.equal(await viewer.locator("#trigger").count(), 0);
        await viewer.click("#grid a.c.s-success >> nth=0");
        await viewer.locator("#ti-summary").waitFor();
        assert.equal(await viewer.locator("#ti-actions").count(), 0);
        await other.close();
      });

      await t.step(
        "an Op makes and resizes a pool on the Pools page; a User only reads it",
        async () => {
          const other = await browser!.newContext();
          const op = await other.newPage();
          op.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
          await op.goto(`${base}/login?next=%2Fpools`);
          await op.fill("#username", "oli");
          await op.fill("#password", TEST_PASSWORD);
          await op.click('#login-form button[type="submit"]');
          await op.waitForURL(`${base}/pools`);
          await op.fill("#new-pool-name", "vendor_api");
          await op.fill("#new-pool-slots", "4");
          await op.fill("#new-pool-description", "Rate-limited vendor API");
          await op.click('#new-pool button[type="submit"]');
          await op.locator("#notice >> text=Created pool vendor_api with 4 slots").waitFor();
          assert.equal(await op.locator("tr[data-pool=vendor_api] .open").textContent(), "4");
          await op.fill('tr[data-pool=vendor_api] input[name="slots"]', "unlimited");
          await op.click('tr[data-pool=vendor_api] button:text("Set")');
          await op.locator("#notice >> text=vendor_api has unlimited slots").waitFor();
          const [pool] = await db.sql<{ slots: number }>`
          SELECT slots FROM pool WHERE name = 'vendor_api'`;
          assert.equal(pool.slots, -1);
          await other.close();
          await page.goto(`${base}/pools`);
          await page.locator("tr[data-pool=vendor_api]").waitFor();
          assert.equal(
            await page.locator("form[action^='/pools']").count(),
            0,
            "a User gets no form",
          );
        },
      );

      await t.step("logging out ends the session", async () => {
        await page.goto(`${base}/`);
        await page.click("#logout");
        await page.waitForURL(`${base}/login`);
        await page.goto(`${base}/`);
        await page.waitForURL(`${base}/login`);
      });

      await t.step("an htmx action after the session ended goes to the login page", async () => {
        await page.goto(`${base}/login?next=%2F`);
        await page.fill("#username", "ada");
        await page.fill("#password", TEST_PASSWORD);
        await page.click('#login-form button[type="submit"]');
        await page.waitForURL(`${base}/`);
        await db.sql`DELETE FROM user_session`; // as an idle timeout or a password change would
        await page.click('tr[data-dag-id="flow"] button[role=switch]');
        await page.waitForURL(`${base}/login`);
        const [dag] = await db.sql<{ isPaused: boolean }>`SELECT is_paused AS "isPaused" FROM dag`;
        assert.equal(dag.isPaused, true, "the refused action changed nothing");
        assert.deepEqual(problems.splice(0), [
          "console: Failed to load resource: the server responded with a status of 401 (Unauthorized)",
        ]);
      });

      assert.deepEqual(problems, [], "no script errors and nothing blocked by the CSP");
    } finally {
      await browser?.close();
      await server.shutdown();
      await worker.stop(2_000);
      await scheduler.stop();
      await info.close();
    }
  },
});
