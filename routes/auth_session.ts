/**
 * Dashboard sessions: a random id in a cookie that is HttpOnly (no script reads it),
 * SameSite=Lax (another site's form posts and fetches go without it) and Secure when the
 * request came over TLS. The id is new at every login (a session fixed by someone else before
 * the login is deleted, not reused), and only its hash is stored.
 */
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { toBase64Url } from "../auth/password.ts";
import { sha256Hex } from "../auth/secrets.ts";
import type { Sql } from "../db/client.ts";
import { deleteSession, insertSession, pruneSessions } from "../db/sessions.ts";
import {
  type AuthContext,
  clientAddress,
  isSecure,
  now,
  SESSION_COOKIE,
  settings,
  userAgent,
} from "./auth_principal.ts";

function cookieOptions(c: AuthContext) {
  return { path: "/", httpOnly: true, sameSite: "Lax" as const, secure: isSecure(c) };
}

/**
 * Replaces the browser's session (whoever's it was) with a new one for `userId`, in `tx`, and
 * sets its cookie on the answer.
 */
export async function startSession(c: AuthContext, tx: Sql, userId: number): Promise<void> {
  const { sessionMaxMs, sessionIdleMs } = settings(c);
  const at = now(c);
  const previous = getCookie(c, SESSION_COOKIE);
  if (previous) await deleteSession(tx, await sha256Hex(previous));
  const id = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  await insertSession(tx, {
    idHash: await sha256Hex(id),
    userId,
    now: at,
    expiresAt: new Date(at.getTime() + sessionMaxMs),
    clientAddr: clientAddress(c),
    userAgent: userAgent(c),
  });
  await pruneSessions(tx, at, sessionIdleMs);
  setCookie(c, SESSION_COOKIE, id, {
    ...cookieOptions(c),
    maxAge: Math.floor(sessionMaxMs / 1000),
  });
}

/** Tells the browser to forget its session cookie. */
export function clearSessionCookie(c: AuthContext): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
}
