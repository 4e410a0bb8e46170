import assert from "node:assert/strict";
import { signJwt, verifyJwt } from "./jwt.ts";
import { toBase64Url } from "./password.ts";

const KEY = "k".repeat(48);
const NOW = new Date("2026-01-01T00:00:00Z");
const enc = (value: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(value)));
const dec = (part: string) =>
  JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/") + "==".slice((part.length + 3) % 4)));

async function hmac(key: string, text: string, hash = "SHA-256"): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text));
  return toBase64Url(new Uint8Array(mac));
}

Deno.test("a signed token verifies, with its claims", async () => {
  const token = await signJwt(KEY, "42", NOW, 3_600_000, { role: "ignored" });
  const result = await verifyJwt(KEY, token, new Date(NOW.getTime() + 1000));
  assert.ok("claims" in result);
  assert.equal(result.claims.sub, "42");
  assert.equal(result.claims.exp - result.claims.iat, 3600);
  assert.deepEqual(dec(token.split(".")[0]), { alg: "HS256", typ: "JWT" });
});

Deno.test("tampered tokens are refused: alg none, other algorithms, wrong key, edited claims", async () => {
  const token = await signJwt(KEY, "42", NOW, 3_600_000);
  const [header, payload, signature] = token.split(".");
  const claims = dec(payload);
  const edited = enc({ ...claims, sub: "1" });
  const cases: Record<string, string> = {
    "alg none, no signature": `${enc({ alg: "none", typ: "JWT" })}.${payload}.`,
    "alg none, old signature": `${enc({ alg: "none" })}.${payload}.${signature}`,
    "alg HS512 signed with the key": `${enc({ alg: "HS512" })}.${payload}.${await hmac(
      KEY,
      `${enc({ alg: "HS512" })}.${payload}`,
      "SHA-512",
    )}`,
    "alg RS256 with an HMAC signature": `${enc({ alg: "RS256" })}.${payload}.${await hmac(
      KEY,
      `${enc({ alg: "RS256" })}.${payload}`,
    )}`,
    "signed with another key": `${header}.${payload}.${await hmac(
      "x".repeat(48),
      `${header}.${payload}`,
    )}`,
    "claims edited, signature kept": `${header}.${edited}.${signature}`,
    "signature truncated": `${header}.${payload}.${signature.slice(0, 20)}`,
    "two parts": `${header}.${payload}`,
    "garbage": "not-a-token",
    "crit header": `${enc({ alg: "HS256", crit: ["x"] })}.${payload}.${await hmac(
      KEY,
      `${enc({ alg: "HS256", crit: ["x"] })}.${payload}`,
    )}`,
  };
  for (const [name, bad] of Object.entries(cases)) {
    assert.deepEqual(await verifyJwt(KEY, bad, NOW), { problem: "invalid" }, name);
  }
});

Deno.test("a token is valid from its issue to its expiry, not before or after", async () => {
  const token = await signJwt(KEY, "42", NOW, 60_000);
  assert.deepEqual(
    await verifyJwt(KEY, token, new Date(NOW.getTime() + 60_000)),
    { problem: "expired" },
  );
  assert.ok("claims" in await verifyJwt(KEY, token, new Date(NOW.getTime() + 59_000)));
  // Clocks of replicas differ a little: 30 s early is accepted, 2 minutes early is not.
  assert.ok("claims" in await verifyJwt(KEY, token, new Date(NOW.getTime() - 20_000)));
  assert.deepEqual(
    await verifyJwt(KEY, token, new Date(NOW.getTime() - 120_000)),
    { problem: "invalid" },
  );
});

Deno.test("claims must be Gust's: audience, issuer and expiry are required", async () => {
  const header = enc({ alg: "HS256", typ: "JWT" });
  const iat = Math.floor(NOW.getTime() / 1000);
  const good = { sub: "1", iat, exp: iat + 60, iss: "gust", aud: "gust-api" };
  for (
    const [name, claims] of Object.entries({
      "other audience": { ...good, aud: "apache-airflow" },
      "other issuer": { ...good, iss: "someone" },
      "no expiry": { ...good, exp: undefined },
      "numeric subject": { ...good, sub: 1 },
    })
  ) {
    const payload = enc(claims);
    const token = `${header}.${payload}.${await hmac(KEY, `${header}.${payload}`)}`;
    assert.deepEqual(await verifyJwt(KEY, token, NOW), { problem: "invalid" }, name);
  }
  const payload = enc(good);
  const token = `${header}.${payload}.${await hmac(KEY, `${header}.${payload}`)}`;
  assert.ok("claims" in await verifyJwt(KEY, token, NOW), "the same claims, well formed, pass");
});
