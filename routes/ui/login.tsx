/**
 * `/login`, `/logout` and `/account`: signing in with a username and password (a new session
 * each time, rate limited like `POST /auth/token`), signing out, and changing one's password.
 * Plain form posts, so they work without JavaScript; cross-site posts are refused by the
 * dashboard's CSRF check before they get here.
 */
import { Hono } from "hono";
import { insertAudit } from "../../db/audit_log.ts";
import { deleteSession } from "../../db/sessions.ts";
import { AccountPage, LoginPage } from "../../views/login_page.tsx";
import { Password } from "../api/auth_schemas.ts";
import { auditEntry } from "../auth_audit.ts";
import { checkLogin } from "../auth_login.ts";
import { changeOwnPassword } from "../auth_manage.ts";
import { authenticateSession } from "../auth_principal.ts";
import { clearSessionCookie, startSession } from "../auth_session.ts";
import type { AppEnv } from "../mod.ts";
import { forbidden, formFields, page, safeBack, type UiContext } from "./common.tsx";

/** Where to go after logging in: a page of this site, never the login page itself. */
function nextPage(value: string | undefined): string {
  const next = safeBack(value, "/");
  return /^\/(login|logout)(\/|\?|$)/.test(next) ? "/" : next;
}

function refuse(
  c: UiContext,
  next: string,
  username: string,
  error: string,
  status: 401 | 422 | 429,
) {
  return page(c, <LoginPage next={next} username={username} error={error} />, status);
}

export const loginUi = new Hono<AppEnv>()
  .get("/login", async (c) => {
    const next = nextPage(c.req.query("next"));
    if (await authenticateSession(c)) return c.redirect(next, 302);
    return page(c, <LoginPage next={next} />);
  })
  .post("/login", async (c) => {
    const fields = await formFields(c);
    const next = nextPage(fields.next);
    const username = (fields.username ?? "").trim();
    const password = fields.password ?? "";
    if (!username || !password) {
      return refuse(c, next, username, "Enter a username and a password", 422);
    }
    const outcome = await checkLogin(c, username, password, "dashboard");
    if (!outcome.ok && outcome.status === 429) {
      c.header("Retry-After", String(outcome.retryAfterS));
      return refuse(
        c,
        next,
        username,
        `Too many failed logins: try again in ${outcome.retryAfterS} s`,
        429,
      );
    }
    if (!outcome.ok) return refuse(c, next, username, "Invalid username or password", 401);
    await c.get("deps").db.begin(async (tx) => {
      await outcome.complete(tx);
      await startSession(c, tx, outcome.user.id);
    });
    return c.redirect(next, 303);
  })
  .post("/logout", async (c) => {
    const principal = c.get("principal");
    if (principal?.sessionHash) {
      await c.get("deps").db.begin(async (tx) => {
        if (await deleteSession(tx, principal.sessionHash!)) {
          await insertAudit(tx, auditEntry(c, "logout"));
        }
      });
    }
    clearSessionCookie(c);
    return c.redirect("/login", 303);
  })
  .get("/account", (c) => {
    if (c.get("principal")?.via !== "session") return notASession(c);
    return page(c, <AccountPage />);
  })
  .post("/account/password", async (c) => {
    const principal = c.get("principal")!;
    if (principal.via !== "session") return notASession(c);
    const fields = await formFields(c);
    const again = (error: string) => page(c, <AccountPage error={error} />, 422);
    if (fields.new !== fields.confirm) return again("The two new passwords differ");
    const checked = Password.safeParse(fields.new ?? "");
    if (!checked.success) return again(checked.error.issues[0].message);
    if (!await changeOwnPassword(c, principal.userId!, fields.current ?? "", checked.data)) {
      return again("The current password is wrong");
    }
    return page(c, <AccountPage notice="Password changed: your other sessions have ended" />);
  });

function notASession(c: UiContext) {
  return forbidden(c, "Only a user signed in with a password has an account page");
}
