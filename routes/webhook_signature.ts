/**
 * Webhook signatures. Two schemes are accepted:
 *
 * - Gust's: `X-Gust-Timestamp: <unix seconds>` and `X-Gust-Signature: sha256=<hex>`, where hex is
 *   the lowercase HMAC-SHA256, keyed with the DAG's secret, of the bytes
 *   `<timestamp>` + `.` + `<raw body>` (the timestamp exactly as sent in its header). The
 *   timestamp must be within the tolerance of the server's clock (5 minutes by default), so a
 *   captured request cannot be replayed later; within the window, the same signed request is
 *   one delivery (see routes/webhooks.ts).
 * - GitHub's: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body alone. It
 *   carries no timestamp; GitHub's delivery id (`X-GitHub-Delivery`) makes a redelivery return
 *   the first run.
 *
 * Signatures are compared in constant time over their bytes, after checking only their form.
 */
import { timingSafeEqual } from "../auth/password.ts";

export { timingSafeEqual };
export type Scheme = "gust" | "github";

export type Verdict =
  | { ok: true; scheme: Scheme; signature: string }
  | { ok: false; reason: string };

const encoder = new TextEncoder();
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
const TIMESTAMP = /^\d{1,12}$/;

async function hmac(secret: string, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const length = parts.reduce((n, p) => n + p.byteLength, 0);
  const data = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.byteLength;
  }
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** `sha256=<hex>` for Gust's scheme: the HMAC of `<timestamp>.<body>`. */
export async function signGust(
  secret: string,
  timestamp: string,
  body: Uint8Array | string,
): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return `sha256=${hex(await hmac(secret, encoder.encode(`${timestamp}.`), bytes))}`;
}

/** `sha256=<hex>` for GitHub's scheme: the HMAC of the body. */
export async function signGitHub(secret: string, body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return `sha256=${hex(await hmac(secret, bytes))}`;
}

export async function verifySignature(
  headers: Headers,
  body: Uint8Array,
  secret: string,
  now: Date,
  toleranceMs: number,
): Promise<Verdict> {
  const gust = headers.get("x-gust-signature");
  const github = headers.get("x-hub-signature-256");
  if (gust !== null) {
    const match = SIGNATURE.exec(gust.trim());
    if (!match) return { ok: false, reason: "X-Gust-Signature must be sha256=<64 hex digits>" };
    const timestamp = headers.get("x-gust-timestamp")?.trim() ?? "";
    if (!TIMESTAMP.test(timestamp)) {
      return { ok: false, reason: "X-Gust-Timestamp must be the time in Unix seconds" };
    }
    const expected = await hmac(secret, encoder.encode(`${timestamp}.`), body);
    if (!timingSafeEqual(expected, fromHex(match[1]))) {
      return { ok: false, reason: "Signature does not match" };
    }
    // Checked after the signature, so an unsigned caller learns nothing about the clock.
    if (Math.abs(now.getTime() - Number(timestamp) * 1000) > toleranceMs) {
      return { ok: false, reason: "Signature timestamp is outside the tolerance" };
    }
    return { ok: true, scheme: "gust", signature: match[1].toLowerCase() };
  }
  if (github !== null) {
    const match = SIGNATURE.exec(github.trim());
    if (!match) return { ok: false, reason: "X-Hub-Signature-256 must be sha256=<64 hex digits>" };
    const expected = await hmac(secret, body);
    if (!timingSafeEqual(expected, fromHex(match[1]))) {
      return { ok: false, reason: "Signature does not match" };
    }
    return { ok: true, scheme: "github", signature: match[1].toLowerCase() };
  }
  return { ok: false, reason: "Missing signature (X-Gust-Signature or X-Hub-Signature-256)" };
}
