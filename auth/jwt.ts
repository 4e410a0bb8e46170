/**
 * JSON Web Tokens signed with HS256 (HMAC-SHA256, WebCrypto), as `POST /auth/token` issues
 * them. Verification accepts exactly one algorithm: the header must say HS256, so a token that
 * says `none` (unsigned) or an asymmetric algorithm (the classic key-confusion trick) is
 * refused before its signature is looked at, and `crypto.subtle.verify` compares the signature
 * in constant time. `exp` is required; `nbf`, `iss` and `aud` are checked.
 */
import { toBase64Url } from "./password.ts";

export const ISSUER = "gust";
export const AUDIENCE = "gust-api";
/** Replicas' clocks differ a little: a token is accepted this long before its `nbf`/`iat`. */
const SKEW_S = 30;

export interface Claims {
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  iss: string;
  aud: string;
  jti: string;
  [name: string]: unknown;
}

export type JwtProblem = "invalid" | "expired";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, key);
  }
  return key;
}

const encodeJson = (value: unknown) => toBase64Url(encoder.encode(JSON.stringify(value)));

function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(
      atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return null;
  }
}

function decodeJson(text: string): Record<string, unknown> | null {
  const bytes = decodeBase64Url(text);
  if (!bytes) return null;
  try {
    const value = JSON.parse(decoder.decode(bytes));
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** A signed token for `sub`, valid from `now` for `ttlMs`, with any extra claims. */
export async function signJwt(
  secret: string,
  sub: string,
  now: Date,
  ttlMs: number,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  const claims: Claims = {
    ...extra,
    sub,
    iat,
    nbf: iat,
    exp: iat + Math.max(1, Math.floor(ttlMs / 1000)),
    iss: ISSUER,
    aud: AUDIENCE,
    jti: crypto.randomUUID(),
  };
  const input = `${encodeJson({ alg: "HS256", typ: "JWT" })}.${encodeJson(claims)}`;
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(input));
  return `${input}.${toBase64Url(new Uint8Array(mac))}`;
}

/** The claims of a token this key signed and that is valid at `now`, or what is wrong with it. */
export async function verifyJwt(
  secret: string,
  token: string,
  now: Date,
): Promise<{ claims: Claims } | { problem: JwtProblem }> {
  const invalid = { problem: "invalid" as const };
  const parts = token.split(".");
  if (parts.length !== 3) return invalid;
  const header = decodeJson(parts[0]);
  if (!header || header.alg !== "HS256" || (header.typ !== undefined && header.typ !== "JWT")) {
    return invalid;
  }
  if (header.crit !== undefined) return invalid; // no extension is understood here
  const signature = decodeBase64Url(parts[2]);
  if (!signature || signature.length !== 32) return invalid;
  const signed = await crypto.subtle.verify(
    "HMAC",
    await hmacKey(secret),
    signature,
    encoder.encode(`${parts[0]}.${parts[1]}`),
  );
  if (!signed) return invalid;
  const claims = decodeJson(parts[1]);
  if (!claims || typeof claims.sub !== "string" || !Number.isFinite(claims.exp)) return invalid;
  if (claims.iss !== ISSUER || claims.aud !== AUDIENCE || !Number.isFinite(claims.iat)) {
    return invalid;
  }
  const seconds = now.getTime() / 1000;
  if ((claims.exp as number) <= seconds) return { problem: "expired" };
  const from = Math.max(claims.iat as number, Number(claims.nbf ?? 0));
  if (from > seconds + SKEW_S) return invalid;
  return { claims: claims as Claims };
}
