/**
 * `/admin/*`, for Admins: users (create, change role, reset password, deactivate), API tokens
 * (create, shown once; revoke) and the audit log. Each action answers with its page, carrying
 * the notice or the error, and the secret it made, since that can be shown only once.
 */
import { Hono } from "hono";
import { z } from "zod";
import { isUserRole, type UserRole } from "../../auth/roles.ts";
import { listApiTokens } from "../../db/api_tokens.ts";
import { listAuditPage } from "../../db/audit_log.ts";
import { orderBy } from "../../db/fragment.ts";
import { listUsers } from "../../db/users.ts";
import { type AdminNotice, TokensPage, UsersPage } from "../../views/admin_users.tsx";
import { AUDIT_PER_PAGE, AuditPage } from "../../views/audit_page.tsx";
import { Password, TokenName, Username } from "../api/auth_schemas.ts";
import { changeUser, createToken, createUser, ManageError, revokeToken } from "../auth_manage.ts";
import type { AppEnv } from "../mod.ts";
import { formFields, intParam, page, type PageStatus, type UiContext } from "./common.tsx";

async function usersPage(
  c: UiContext,
  o: { notice?: AdminNotice; error?: string },
  status: PageStatus = 200,
) {
  const users = await listUsers(c.get("deps").db.sql);
  return page(c, <UsersPage users={users} {...o} />, status);
}

async function tokensPage(
  c: UiContext,
  o: { notice?: AdminNotice; error?: string },
  status: PageStatus = 200,
) {
  const tokens = await listApiTokens(c.get("deps").db.sql);
  return page(c, <TokensPage tokens={tokens} {...o} />, status);
}

/** The first problem zod found, as a sentence for the page. */
const problem = (error: z.ZodError) => error.issues[0]?.message ?? "Invalid input";

/** Runs a change; a refusal it raises becomes the page's error, with its status. */
async function attempt(
  render: (o: { notice?: AdminNotice; error?: string }, status?: PageStatus) => Promise<Response>,
  change: () => Promise<AdminNotice>,
): Promise<Response> {
  try {
    return await render({ notice: await change() });
  } catch (error) {
    if (!(error instanceof ManageError)) throw error;
    return await render({ error: error.message }, error.status);
  }
}

const roleOf = (value: string | undefined): UserRole | null => (isUserRole(value) ? value : null);

export const adminUi = new Hono<AppEnv>()
  .get("/users", (c) => usersPage(c, {}))
  .post("/users", async (c) => {
    const f = await formFields(c);
    const render = (o: { notice?: AdminNotice; error?: string }, s?: PageStatus) =>
      usersPage(c, o, s);
    const username = Username.safeParse((f.username ?? "").trim());
    if (!username.success) return await render({ error: problem(username.error) }, 422);
    const role = roleOf(f.role);
    if (!role) return await render({ error: "A role is one of Viewer, User, Op or Admin" }, 422);
    const password = f.password ? Password.safeParse(f.password) : null;
    if (password && !password.success) return await render({ error: problem(password.error) }, 422);
    return await attempt(render, async () => {
      const made = await createUser(c, { username: username.data, role, password: password?.data });
      return {
        text: `Created user ${made.user.username} (${role})`,
        ...(made.password ? { secret: { label: "Password", value: made.password } } : {}),
      };
    });
  })
  .post("/users/:username/role", async (c) => {
    const role = roleOf((await formFields(c)).role);
    const render = (o: { notice?: AdminNotice; error?: string }, s?: PageStatus) =>
      usersPage(c, o, s);
    if (!role) return await render({ error: "A role is one of Viewer, User, Op or Admin" }, 422);
    return await attempt(render, async () => {
      const { user } = await changeUser(c, c.req.param("username"), { role });
      return { text: `${user.username} is now ${user.role}` };
    });
  })
  .post("/users/:username/password", (c) =>
    attempt((o, s) => usersPage(c, o, s), async () => {
      const { user, password } = await changeUser(c, c.req.param("username"), {
        resetPassword: true,
      });
      return {
        text: `New password for ${user.username}: their sessions have ended`,
        secret: { label: "Password", value: password! },
      };
    }))
  .post("/users/:username/active", async (c) => {
    const active = (await formFields(c)).active === "true";
    return await attempt((o, s) => usersPage(c, o, s), async () => {
      const { user } = await changeUser(c, c.req.param("username"), { isActive: active });
      return { text: `${user.username} is ${user.isActive ? "active" : "deactivated"}` };
    });
  })
  .get("/tokens", (c) => tokensPage(c, {}))
  .post("/tokens", async (c) => {
    const f = await formFields(c);
    const render = (o: { notice?: AdminNotice; error?: string }, s?: PageStatus) =>
      tokensPage(c, o, s);
    const name = TokenName.safeParse(f.name ?? "");
    if (!name.success) return await render({ error: problem(name.error) }, 422);
    const role = roleOf(f.role);
    if (!role) return await render({ error: "A role is one of Viewer, User, Op or Admin" }, 422);
    const days = f.expires_in_days ? intParam(f.expires_in_days) : null;
    if (f.expires_in_days && (days === null || days < 1 || days > 3650)) {
      return await render({ error: "Expiry is a number of days from 1 to 3650" }, 422);
    }
    return await attempt(render, async () => {
      const { token, secret } = await createToken(c, {
        name: name.data,
        role,
        expiresInDays: days,
      });
      return {
        text: `Created token ${token.name} (${token.role})`,
        secret: { label: "Token", value: secret },
      };
    });
  })
  .post("/tokens/:id/revoke", async (c) => {
    const id = intParam(c.req.param("id"));
    return await attempt((o, s) => tokensPage(c, o, s), async () => {
      if (id === null) {
        throw new ManageError(`There is no live API token ${c.req.param("id")}`, 404);
      }
      const token = await revokeToken(c, id);
      return { text: `Revoked token ${token.name}` };
    });
  })
  .get("/audit", async (c) => {
    const filters = {
      event: (c.req.query("event") ?? "").trim().slice(0, 100),
      owner: (c.req.query("owner") ?? "").trim().slice(0, 100),
      dagId: (c.req.query("dag_id") ?? "").trim().slice(0, 250),
    };
    const pageNumber = Math.max(1, intParam(c.req.query("page")) ?? 1);
    const { rows, total } = await listAuditPage(
      c.get("deps").db.sql,
      { event: filters.event || null, owner: filters.owner || null, dagId: filters.dagId || null },
      orderBy([["dttm", true]], "id"),
      AUDIT_PER_PAGE,
      (pageNumber - 1) * AUDIT_PER_PAGE,
    );
    return page(c, <AuditPage rows={rows} total={total} page={pageNumber} filters={filters} />);
  });
