import assert from "node:assert/strict";
import { Waker } from "./service.ts";

const within = (ms: number, p: Promise<void>) =>
  Promise.race([p.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), ms))]);

Deno.test("a wake cuts a sleep short", async () => {
  const waker = new Waker();
  const sleeping = waker.sleep(10_000);
  waker.wake();
  assert.equal(await within(1_000, sleeping), true);
});

Deno.test("a wake while nobody sleeps is kept for the next sleep, once", async () => {
  const waker = new Waker();
  waker.wake();
  waker.wake();
  assert.equal(await within(1_000, waker.sleep(10_000)), true, "the kept wake ends this sleep");
  const next = waker.sleep(200);
  assert.equal(await within(50, next), false, "two wakes before it count as one");
  await next;
});

Deno.test("a sleep ends by itself when nobody wakes it", async () => {
  const waker = new Waker();
  const started = performance.now();
  await waker.sleep(30);
  assert.ok(performance.now() - started >= 25);
});
