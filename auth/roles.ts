/**
 * Airflow's roles, each a superset of the one before: Viewer reads; User also triggers, clears,
 * marks and pauses; Op also manages pools, connections and variables; Admin also manages users
 * and API tokens and reads the audit log. An action names the permission it needs, never a
 * role, so a new role is one line here.
 */

export const ROLES = ["Viewer", "User", "Op", "Admin"] as const;
export type UserRole = typeof ROLES[number];

export type Permission =
  | "read"
  | "trigger"
  | "clear"
  | "mark"
  | "pause"
  | "pools"
  | "connections"
  | "variables"
  | "users"
  | "tokens"
  | "audit";

/** What a route needs: a permission, or nothing at all ("public"). */
export type Access = Permission | "public";

/** Each role's own permissions; a role also has those of every role before it in ROLES. */
const GRANTS: Record<UserRole, Permission[]> = {
  Viewer: ["read"],
  User: ["trigger", "clear", "mark", "pause"],
  Op: ["pools", "connections", "variables"],
  Admin: ["users", "tokens", "audit"],
};

const PERMISSIONS = new Map<UserRole, ReadonlySet<Permission>>(
  ROLES.map((role, i) => [role, new Set(ROLES.slice(0, i + 1).flatMap((r) => GRANTS[r]))]),
);

export function can(role: UserRole, permission: Permission): boolean {
  return PERMISSIONS.get(role)?.has(permission) ?? false;
}

export function isUserRole(value: unknown): value is UserRole {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
