/**
 * The embedded database on disk: a new home is written out from a migrated snapshot (cached
 * once per machine) instead of being created and migrated, and opens again as it was left.
 */
import assert from "node:assert/strict";
import { loadMigrations } from "../db/migrate.ts";
import { openDb } from "../db/open.ts";

Deno.test({
  name: "a new embedded home is made from the migrated snapshot and keeps its rows",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const cache = await Deno.makeTempDir({ prefix: "gust_cache_" });
    const homes = await Deno.makeTempDir({ prefix: "gust_homes_" });
    const snapshots = () => [...Deno.readDirSync(cache)].map((e) => e.name);
    try {
      await t.step("the first home builds the snapshot and is migrated", async () => {
        const db = await openDb({ dataDir: `${homes}/a`, snapshotDir: cache });
        const [row] = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM gust_migration`;
        assert.equal(row.n, (await loadMigrations()).length);
        await db.sql`INSERT INTO pool (name, slots, description) VALUES ('kept', 3, 'a row')`;
        const [buffers] = await db.sql<
          { v: string }
        >`SELECT current_setting('shared_buffers') AS v`;
        assert.equal(buffers.v, "32MB");
        await db.close();
        assert.equal(snapshots().length, 1);
        assert.match(snapshots()[0], /^pglite-[0-9a-f]{16}\.tar$/);
      });

      await t.step("opening the home again finds its rows", async () => {
        const db = await openDb({ dataDir: `${homes}/a`, snapshotDir: cache });
        const rows = await db.sql<{ slots: number }>`SELECT slots FROM pool WHERE name = 'kept'`;
        assert.deepEqual(rows, [{ slots: 3 }]);
        await db.close();
      });

      await t.step("a second home is written out from the same snapshot", async () => {
        const before = Deno.statSync(`${cache}/${snapshots()[0]}`).mtime;
        const db = await openDb({ dataDir: `${homes}/b`, snapshotDir: cache });
        const rows = await db.sql`SELECT 1 FROM pool WHERE name = 'kept'`;
        assert.equal(rows.length, 0);
        // Without the template databases, whose files were two thirds of a new home's.
        const databases = await db.sql<{ datname: string }>`SELECT datname FROM pg_database`;
        assert.deepEqual(databases.map((d) => d.datname), ["postgres"]);
        await db.close();
        assert.deepEqual(Deno.statSync(`${cache}/${snapshots()[0]}`).mtime, before);
        // No half-made folder is left beside the homes.
        assert.deepEqual([...Deno.readDirSync(homes)].map((e) => e.name).sort(), ["a", "b"]);
      });

      await t.step("a folder holding other files is not made a database", async () => {
        await Deno.mkdir(`${homes}/c`);
        await Deno.writeTextFile(`${homes}/c/notes.txt`, "mine");
        await assert.rejects(
          openDb({ dataDir: `${homes}/c`, snapshotDir: cache }),
          new RegExp(
            `^Error: Cannot create the embedded database in ${homes}/c: the folder is not empty$`,
          ),
        );
        assert.deepEqual([...Deno.readDirSync(`${homes}/c`)].map((e) => e.name), ["notes.txt"]);
      });
    } finally {
      await Deno.remove(cache, { recursive: true });
      await Deno.remove(homes, { recursive: true });
    }
  },
});
