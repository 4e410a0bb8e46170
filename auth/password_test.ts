import assert from "node:assert/strict";
import {
  DEFAULT_ITERATIONS,
  hashPassword,
  needsRehash,
  randomPassword,
  verifyPassword,
} from "./password.ts";

Deno.test("a password hash verifies its password only", async () => {
  const hash = await hashPassword("correct horse battery staple", 1000);
  assert.equal(await verifyPassword("correct horse battery staple", hash), true);
  assert.equal(await verifyPassword("correct horse battery stapl", hash), false);
  assert.equal(await verifyPassword("", hash), false);
});

Deno.test("hashes are salted and carry their iteration count", async () => {
  const a = await hashPassword("same password", 1000);
  const b = await hashPassword("same password", 1000);
  assert.notEqual(a, b, "a fresh salt each time");
  assert.match(a, /^pbkdf2_sha256\$1000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  // The count in the string is the one used to verify: a hash made with 2000 iterations but
  // labelled 1000 no longer matches.
  const relabelled = a.replace("$1000$", "$2000$");
  assert.equal(await verifyPassword("same password", relabelled), false);
});

Deno.test("the default is OWASP's 600,000 iterations, and weaker hashes ask to be redone", async () => {
  assert.equal(DEFAULT_ITERATIONS, 600_000);
  const strong = await hashPassword("long enough password");
  assert.match(strong, /^pbkdf2_sha256\$600000\$/);
  assert.equal(await verifyPassword("long enough password", strong), true);
  assert.equal(needsRehash(strong, 600_000), false);
  const weak = await hashPassword("long enough password", 1000);
  assert.equal(needsRehash(weak, 600_000), true);
  assert.equal(needsRehash("md5$abc", 600_000), true);
});

Deno.test("a malformed or tampered hash verifies nothing", async () => {
  const hash = await hashPassword("pw-pw-pw-pw-pw", 1000);
  const parts = hash.split("$");
  const flipped = parts[3][0] === "A" ? "B" : "A";
  for (
    const bad of [
      "",
      "pbkdf2_sha256$1000$salt",
      `argon2$1000$${parts[2]}$${parts[3]}`,
      `pbkdf2_sha256$x$${parts[2]}$${parts[3]}`,
      `pbkdf2_sha256$0$${parts[2]}$${parts[3]}`,
      `pbkdf2_sha256$1000$${parts[2]}$${flipped}${parts[3].slice(1)}`,
      `pbkdf2_sha256$1000$${parts[2]}$!!!`,
    ]
  ) {
    assert.equal(await verifyPassword("pw-pw-pw-pw-pw", bad), false, bad);
  }
});

Deno.test("generated passwords are long and differ", () => {
  const seen = new Set(Array.from({ length: 50 }, randomPassword));
  assert.equal(seen.size, 50);
  for (const p of seen) assert.match(p, /^[A-Za-z0-9_-]{24}$/);
});
