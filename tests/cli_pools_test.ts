/**
 * `gust pools` as a process, on an embedded database no server holds (the CLI serves the API in
 * its own process): a pool created, resized, listed and deleted, the audit log naming the CLI,
 * and bad input exiting 2 with the reason.
 */
import assert from "node:assert/strict";
import { openDb } from "../db/open.ts";
import { runGust, withEmbeddedHome } from "./cli_helpers.ts";

const gust = (env: Record<string, string>, ...args: string[]) => runGust(env, args);

Deno.test({
  name: "gust pools as a process",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await withEmbeddedHome(async (env, home) => {
      await t.step("set creates a pool, then changes its slots", async () => {
        const made = await gust(env, "pools", "set", "vendor_api", "4", "--description", "Vendor");
        assert.equal(made.code, 0, made.stderr);
        assert.equal(made.stdout.trim(), "Created pool vendor_api: 4 slots");
        const resized = await gust(env, "pools", "set", "vendor_api", "unlimited");
        assert.equal(resized.code, 0, resized.stderr);
        assert.equal(resized.stdout.trim(), "Updated pool vendor_api: unlimited slots");
        const dflt = await gust(env, "pools", "set", "default_pool", "512");
        assert.equal(dflt.stdout.trim(), "Updated pool default_pool: 512 slots");
      });

      await t.step("list shows each pool's slots; --json gives the API's objects", async () => {
        const table = await gust(env, "pools", "list");
        assert.equal(table.code, 0, table.stderr);
        const rows = table.stdout.trim().split("\n").map((l) => l.split(/\s{2,}/));
        assert.deepEqual(rows.map((r) => r.slice(0, 2)), [
          ["pool", "slots"],
          ["default_pool", "512"],
          ["vendor_api", "unlimited"],
        ]);
        assert.equal(rows[2].at(-1), "Vendor", "the description stayed");
        const json = JSON.parse((await gust(env, "pools", "list", "--json")).stdout);
        assert.deepEqual(json.map((p: { name: string; slots: number }) => [p.name, p.slots]), [
          ["default_pool", 512],
          ["vendor_api", -1],
        ]);
      });

      await t.step("bad input exits 2 with the reason, and changes nothing", async () => {
        const cases: [string[], RegExp][] = [
          [["pools", "set", "vendor_api"], /<slots> must be a whole number/],
          [["pools", "set", "vendor_api", "2.5"], /<slots> must be a whole number/],
          [["pools", "set", "bad name", "2"], /name: must be 1 to 250 letters/],
          [["pools", "delete", "default_pool"], /Default Pool can't be deleted/],
          [["pools", "delete", "nowhere"], /nowhere.*was not found/],
          [["pools", "drain", "x"], /Unknown command "pools drain"/],
          [["pools", "delete"], /Missing <name>/],
        ];
        for (const [args, message] of cases) {
          const r = await gust(env, ...args);
          assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
          assert.match(r.stderr, message, args.join(" "));
        }
      });

      await t.step("delete removes it; the audit log names the CLI for each change", async () => {
        const gone = await gust(env, "pools", "delete", "vendor_api");
        assert.equal(gone.code, 0, gone.stderr);
        assert.equal(gone.stdout.trim(), "Deleted pool vendor_api");
        const db = await openDb({ dataDir: `${home}/db` });
        try {
          const pools = await db.sql<{ name: string }>`SELECT name FROM pool ORDER BY name`;
          assert.deepEqual(pools.map((p) => p.name), ["default_pool"]);
          const audit = await db.sql<{ event: string; actor: string }>`
            SELECT event, actor FROM audit_log WHERE event LIKE 'pool_%' ORDER BY id`;
          assert.deepEqual(audit.map((a) => `${a.event} by ${a.actor}`), [
            "pool_create by cli",
            "pool_update by cli",
            "pool_update by cli",
            "pool_delete by cli",
          ]);
        } finally {
          await db.close();
        }
      });
    });
  },
});
