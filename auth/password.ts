/**
 * Password hashing with WebCrypto's PBKDF2-HMAC-SHA256: slow, salted, and built into Deno, so
 * no native module is needed. OWASP's figure for it is 600,000 iterations (about 180 ms here;
 * WebCrypto runs it off the event loop, so other requests go on meanwhile). The iteration count
 * is stored in the hash, `pbkdf2_sha256$<iterations>$<salt>$<hash>` (the layout Django uses),
 * so raising it later leaves old hashes verifiable, and `needsRehash` tells when to upgrade one.
 */

export const DEFAULT_ITERATIONS = 600_000;
const SCHEME = "pbkdf2_sha256";
const SALT_BYTES = 16;
const HASH_BITS = 256;

const encoder = new TextEncoder();

export const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string): Uint8Array =>
  Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

async function derive(password: string, salt: Uint8Array, iterations: number) {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}

export async function hashPassword(
  password: string,
  iterations = DEFAULT_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${SCHEME}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

function parse(stored: string): { iterations: number; salt: Uint8Array; hash: Uint8Array } | null {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== SCHEME || !/^\d{1,9}$/.test(parts[1])) return null;
  try {
    return { iterations: Number(parts[1]), salt: fromBase64(parts[2]), hash: fromBase64(parts[3]) };
  } catch {
    return null;
  }
}

/** True when the two are equal, in a time that depends only on their length. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.iterations < 1) return false;
  const hash = await derive(password, parsed.salt, parsed.iterations);
  return timingSafeEqual(hash, parsed.hash);
}

/** Whether a hash was made with fewer iterations than asked for now (or is not ours). */
export function needsRehash(stored: string, iterations: number): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.iterations < iterations;
}

/**
 * A hash of no one's password, verified when a login names no user, so that an unknown name
 * takes as long to refuse as a wrong password and does not tell which names exist.
 */
const dummies = new Map<number, Promise<string>>();
export function dummyHash(iterations: number): Promise<string> {
  let hash = dummies.get(iterations);
  if (!hash) {
    hash = hashPassword(crypto.randomUUID(), iterations);
    dummies.set(iterations, hash);
  }
  return hash;
}

/** 24 characters from a URL-safe alphabet: 144 random bits, for first-start and reset passwords. */
export function randomPassword(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
