/**
 * What a web server needs before it serves: the JWT key (GUST_SECRET_KEY, or one generated once
 * into GUST_HOME), a first Admin when there is no user at all (named `admin`, with a random
 * password printed once: there is never a default password), and a fresh local credential for
 * the CLI of this machine, written into GUST_HOME readable by this account only.
 */
import { hashPassword, randomPassword } from "../auth/password.ts";
import {
  LOCAL_TOKEN_PREFIX,
  randomToken,
  resolveSecretKey,
  writeLocalCredential,
} from "../auth/secrets.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { countUsers, insertFirstUser } from "../db/users.ts";
import type { AuthSettings } from "./auth_principal.ts";

export const FIRST_ADMIN = "admin";

/** The settings of `config`, with the key and local credential given. */
export function authSettings(
  config: Config,
  o: { secretKey: string; localToken: string | null },
): AuthSettings {
  const a = config.auth;
  return {
    secretKey: o.secretKey,
    jwtTtlMs: a.jwtTtlMs,
    sessionIdleMs: a.sessionIdleMs,
    sessionMaxMs: a.sessionMaxMs,
    passwordIterations: a.passwordIterations,
    loginRateLimit: a.loginRateLimit,
    forwardedAllowIps: a.forwardedAllowIps,
    localToken: o.localToken,
  };
}

/** Creates the first Admin when no user exists; returns its password, or null. */
export async function createFirstAdmin(db: Db, iterations: number): Promise<string | null> {
  if (await countUsers(db.sql) > 0) return null;
  const password = randomPassword();
  const passwordHash = await hashPassword(password, iterations);
  const created = await db.begin((tx) =>
    insertFirstUser(tx, { username: FIRST_ADMIN, role: "Admin", passwordHash, now: new Date() })
  );
  return created ? password : null;
}

/**
 * `firstAdmin` settles once the first Admin exists (or was not needed): its password hash takes
 * a fifth of a second, which a first start need not wait for before it answers `/health`.
 */
export async function startAuth(
  config: Config,
  db: Db,
  log: (message: string) => void,
): Promise<
  { settings: AuthSettings; firstAdmin: Promise<void>; release: () => Promise<void> }
> {
  const secretKey = await resolveSecretKey(config.home, config.auth.secretKey);
  const firstAdmin = createFirstAdmin(db, config.auth.passwordIterations).then((password) => {
    if (!password) return;
    log(
      `Created the first user: "${FIRST_ADMIN}" (Admin) with password ${password}\n` +
        "  It is shown only this once: log in and change it under Account.",
    );
  });
  // The caller awaits it; this only keeps a failure that comes first from ending the process
  // as an unhandled rejection before then.
  firstAdmin.catch(() => {});
  const localToken = randomToken(LOCAL_TOKEN_PREFIX);
  const release = await writeLocalCredential(config.home, {
    url: config.apiUrl,
    token: localToken,
    pid: Deno.pid,
  });
  return { settings: authSettings(config, { secretKey, localToken }), firstAdmin, release };
}
