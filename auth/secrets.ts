/**
 * Random secrets and the two files in GUST_HOME that hold some: the JWT signing key, when
 * GUST_SECRET_KEY is not set, and the local CLI credential a web server writes at start. Both
 * are created with mode 0600, so only the account running Gust can read them: the same trust
 * boundary as the embedded database's own files beside them.
 */
import { toBase64Url } from "./password.ts";

export const API_TOKEN_PREFIX = "gust_";
export const LOCAL_TOKEN_PREFIX = "gustlocal_";

/** `prefix` and 256 random bits, URL-safe. */
export function randomToken(prefix: string): string {
  return prefix + toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes a file readable by its owner only, whole or not at all (a temporary file, renamed). */
async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  await Deno.chmod(tmp, 0o600); // the umask may have narrowed it further, never widened
  await Deno.rename(tmp, path);
}

/**
 * GUST_SECRET_KEY, else the key in `<home>/secret_key`, created on first use. Two processes
 * starting at once on one home agree: the file is created exclusively, and the loser reads the
 * winner's. Replicas on different machines must share GUST_SECRET_KEY instead.
 */
export async function resolveSecretKey(home: string, configured: string | null): Promise<string> {
  if (configured) return configured;
  const path = `${home}/secret_key`;
  await Deno.mkdir(home, { recursive: true });
  const key = toBase64Url(crypto.getRandomValues(new Uint8Array(48)));
  try {
    await Deno.writeTextFile(path, key, { mode: 0o600, createNew: true });
    return key;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const text = (await Deno.readTextFile(path)).trim();
    if (text) return text;
    await new Promise((r) => setTimeout(r, 20)); // the winner has created it, not yet written it
  }
  throw new Error(`${path} is empty: remove it, or set GUST_SECRET_KEY`);
}

/** What a web server writes for the CLI of the same machine and account. */
export interface LocalCredential {
  /** The server's address as the CLI computes it (GUST_API_URL): the token goes nowhere else. */
  url: string;
  token: string;
  pid: number;
}

export const localCredentialPath = (home: string) => `${home}/cli_credential.json`;

/** Writes a new local credential; returns a function that removes it if it is still ours. */
export async function writeLocalCredential(
  home: string,
  credential: LocalCredential,
): Promise<() => Promise<void>> {
  await Deno.mkdir(home, { recursive: true });
  const path = localCredentialPath(home);
  await writePrivate(path, JSON.stringify(credential));
  return async () => {
    const current = await readLocalCredential(home);
    if (current?.token === credential.token) await Deno.remove(path).catch(() => {});
  };
}

export async function readLocalCredential(home: string): Promise<LocalCredential | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(localCredentialPath(home)));
    if (typeof value?.url === "string" && typeof value?.token === "string") return value;
  } catch {
    // missing, unreadable or half-written: no local credential
  }
  return null;
}
