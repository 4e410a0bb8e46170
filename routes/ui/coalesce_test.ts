import assert from "node:assert/strict";
import type { Sql } from "../../db/client.ts";
import { coalesce } from "./coalesce.ts";

/** A read whose calls the test ends one by one, counting how many were started. */
function controlledRead() {
  const pending: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];
  let started = 0;
  return {
    read: () =>
      new Promise<number>((resolve, reject) => {
        started++;
        pending.push({ resolve, reject });
      }),
    started: () => started,
    /** Ends the oldest unfinished read with its number (1 for the first read). */
    async end(error?: Error) {
      await tick();
      const next = pending.shift()!;
      if (error) next.reject(error);
      else next.resolve(started - pending.length);
      await tick();
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const fakeSql = () => ({ cache: new Map() }) as unknown as Sql;

Deno.test("callers during a read share the next one, which starts after they came", async () => {
  const sql = fakeSql();
  const r = controlledRead();
  const first = coalesce(sql, "k", r.read);
  await tick();
  const second = coalesce(sql, "k", r.read);
  const third = coalesce(sql, "k", r.read);
  await tick();
  assert.equal(r.started(), 1, "the callers during the first read wait for it to end");
  await r.end();
  assert.equal(await first, 1);
  assert.equal(r.started(), 2, "one read for both");
  const fourth = coalesce(sql, "k", r.read);
  await r.end();
  assert.equal(await second, 2);
  assert.equal(await third, 2);
  await r.end();
  assert.equal(await fourth, 3, "a caller during the second read gets a third");
  assert.equal(r.started(), 3);
  const other = coalesce(sql, "other", r.read);
  await tick();
  assert.equal(r.started(), 4, "another key reads on its own");
  await r.end();
  assert.equal(await other, 4);
});

Deno.test("a failed read fails only its own callers", async () => {
  const sql = fakeSql();
  const r = controlledRead();
  const first = coalesce(sql, "k", r.read);
  await tick();
  const second = coalesce(sql, "k", r.read);
  await r.end(new Error("Connection lost"));
  await assert.rejects(first, /Connection lost/);
  await r.end();
  assert.equal(await second, 2);
});
