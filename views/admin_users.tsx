/**
 * Admin pages for users and API tokens: lists with their actions, a form to create one, and a
 * secret (a generated password, a new token) shown once, in the answer that made it. Every
 * name is text rendered by Preact, so it is escaped wherever it appears.
 */
import { ROLES } from "../auth/roles.ts";
import type { ApiToken } from "../db/api_tokens.ts";
import type { User } from "../db/users.ts";
import { formatTime } from "./format.ts";
import { FormField, Layout } from "./layout.tsx";

export interface AdminNotice {
  text: string;
  /** A secret shown once, with what it is. */
  secret?: { label: string; value: string };
}

function Notices(props: { notice?: AdminNotice; error?: string }) {
  return (
    <>
      {props.notice && (
        <div class="notice ok" role="status" id="notice">
          <div>{props.notice.text}</div>
          {props.notice.secret && (
            <p>
              {props.notice.secret.label}:{" "}
              <code class="secret" id="secret">
                {props.notice.secret.value}
              </code>{" "}
              <span class="muted">(shown only now: copy it)</span>
            </p>
          )}
        </div>
      )}
      {props.error && <p class="notice error" role="alert" id="error">{props.error}</p>}
    </>
  );
}

function RoleSelect(props: { name: string; selected?: string; id?: string }) {
  return (
    <select name={props.name} id={props.id} aria-label="Role">
      {ROLES.map((r) => (
        <option key={r} value={r} selected={r === (props.selected ?? "Viewer")}>{r}</option>
      ))}
    </select>
  );
}

const userUrl = (username: string, action: string) =>
  `/admin/users/${encodeURIComponent(username)}/${action}`;

export function UsersPage(props: { users: User[]; notice?: AdminNotice; error?: string }) {
  return (
    <Layout title="Users">
      <h1>Users</h1>
      <Notices notice={props.notice} error={props.error} />
      <div class="scroll">
        <table id="users">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>Status</th>
              <th class="hide-narrow">Last login</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.users.map((u) => (
              <tr data-username={u.username}>
                <td class="break username">{u.username}</td>
                <td>
                  <form class="inline" method="post" action={userUrl(u.username, "role")}>
                    <RoleSelect name="role" selected={u.role} />{" "}
                    <button type="submit">Change role</button>
                  </form>
                </td>
                <td>{u.isActive ? "active" : <span class="muted">deactivated</span>}</td>
                <td class="hide-narrow nowrap">{formatTime(u.lastLoginAt) || "never"}</td>
                <td class="actions">
                  <form class="inline" method="post" action={userUrl(u.username, "password")}>
                    <button type="submit">Reset password</button>
                  </form>
                  <form class="inline" method="post" action={userUrl(u.username, "active")}>
                    <input type="hidden" name="active" value={u.isActive ? "false" : "true"} />
                    <button type="submit" class={u.isActive ? "danger" : ""}>
                      {u.isActive ? "Deactivate" : "Activate"}
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>New user</h2>
      <form method="post" action="/admin/users" id="new-user">
        <FormField id="new-username" label="Username">
          <input id="new-username" name="username" required autocomplete="off" />
        </FormField>
        <FormField id="new-role" label="Role">
          <RoleSelect name="role" id="new-role" />
        </FormField>
        <FormField
          id="new-password"
          label="Password"
          help="Leave empty to generate one, shown once."
        >
          <input id="new-password" name="password" type="password" autocomplete="new-password" />
        </FormField>
        <button type="submit" class="primary">Create user</button>
      </form>
    </Layout>
  );
}

function tokenStatus(t: ApiToken): string {
  if (t.revokedAt) return `revoked ${formatTime(t.revokedAt)}`;
  if (t.expiresAt && new Date(t.expiresAt) <= new Date()) return "expired";
  return "live";
}

export function TokensPage(props: { tokens: ApiToken[]; notice?: AdminNotice; error?: string }) {
  return (
    <Layout title="API tokens">
      <h1>API tokens</h1>
      <p class="muted">
        A token acts with its own role, in its own name: send it as{" "}
        <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <Notices notice={props.notice} error={props.error} />
      <div class="scroll">
        <table id="tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Token</th>
              <th class="hide-narrow">Created</th>
              <th>Last used</th>
              <th class="hide-narrow">Expires</th>
              <th>Status</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {props.tokens.map((t) => (
              <tr data-token-id={String(t.id)}>
                <td class="break token-name">{t.name}</td>
                <td>{t.role}</td>
                <td>
                  <code>{t.prefix}…</code>
                </td>
                <td class="hide-narrow nowrap">
                  {formatTime(t.createdAt)}
                  {t.createdBy && <span class="muted created-by">by {t.createdBy}</span>}
                </td>
                <td class="nowrap">{formatTime(t.lastUsedAt) || "never"}</td>
                <td class="hide-narrow nowrap">{formatTime(t.expiresAt) || "never"}</td>
                <td>{tokenStatus(t)}</td>
                <td>
                  {!t.revokedAt && (
                    <form class="inline" method="post" action={`/admin/tokens/${t.id}/revoke`}>
                      <button type="submit" class="danger">Revoke</button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>New token</h2>
      <form method="post" action="/admin/tokens" id="new-token">
        <FormField id="token-name" label="Name">
          <input id="token-name" name="name" required maxLength={100} autocomplete="off" />
        </FormField>
        <FormField id="token-role" label="Role">
          <RoleSelect name="role" id="token-role" />
        </FormField>
        <FormField
          id="token-days"
          label="Expires after (days)"
          help="Leave empty for a token that lasts until it is revoked."
        >
          <input id="token-days" name="expires_in_days" type="number" min="1" max="3650" />
        </FormField>
        <button type="submit" class="primary">Create token</button>
      </form>
    </Layout>
  );
}
