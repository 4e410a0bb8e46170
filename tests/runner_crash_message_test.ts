/** What a dead runner's error says: the reason, not only the exit code. */
import assert from "node:assert/strict";
import { crashMessage } from "../worker/runner_pool.ts";

const exited = (code: number, signal: Deno.Signal | null = null): Deno.CommandStatus => ({
  success: code === 0,
  code,
  signal,
});

Deno.test("a runner that could not load a module says which, in the message", () => {
  // What Deno printed when a runner without the proxy's certificate could not reach the registry.
  const stderr = [
    `error: Failed loading https://registry.npmjs.org/zod for package "zod"`,
    "    0: error sending request for url (https://registry.npmjs.org/zod): client error (Connect)",
    "    at file:///work/sdk/options.ts:6:19",
  ].join("\n");
  assert.equal(
    crashMessage(exited(1), stderr, 512),
    `Runner exited with code 1: Failed loading https://registry.npmjs.org/zod for package "zod"`,
  );
});

Deno.test("a runner killed by a signal, or out of heap, says so", () => {
  assert.equal(
    crashMessage(exited(137, "SIGKILL"), "", 512),
    "Runner exited with code 137 (SIGKILL)",
  );
  assert.equal(
    crashMessage(exited(133, "SIGTRAP"), "<--- Last few GCs --->", 64),
    "Runner ran out of memory (heap limit 64 MiB)",
  );
  assert.equal(
    crashMessage(exited(1), "Fatal JavaScript out of memory: Reached heap limit", 128),
    "Runner ran out of memory (heap limit 128 MiB)",
  );
});
