/**
 * The audit log: one row per change and per login, written in the transaction of the change
 * it records, so a change that rolls back leaves no row. Read by Admins in the dashboard and
 * through `/api/v2/eventLogs` (Airflow's EventLog). Failed logins double as the login rate
 * limit's memory: counting them needs no table of its own, and every web replica sees them.
 */
import { json, type Sql } from "./client.ts";
import { frag, type Fragment, query, where } from "./fragment.ts";

export type Actor = "user" | "api_token" | "webhook" | "cli" | "anonymous";

export interface AuditTarget {
  dagId?: string | null;
  runId?: string | null;
  taskId?: string | null;
  mapIndex?: number | null;
  tryNumber?: number | null;
  logicalDate?: Date | null;
}

export interface AuditEntry extends AuditTarget {
  when: Date;
  event: string;
  owner: string | null;
  actor: Actor;
  clientAddr: string | null;
  extra: Record<string, unknown> | null;
}

export interface AuditRow {
  id: number;
  when: Date;
  event: string;
  owner: string | null;
  actor: Actor;
  dagId: string | null;
  runId: string | null;
  taskId: string | null;
  mapIndex: number | null;
  tryNumber: number | null;
  logicalDate: Date | null;
  clientAddr: string | null;
  extra: Record<string, unknown> | null;
}

export async function insertAudit(tx: Sql, e: AuditEntry): Promise<void> {
  await tx`
    INSERT INTO audit_log (dttm, event, owner, actor, dag_id, run_id, task_id, map_index,
      try_number, logical_date, client_addr, extra)
    VALUES (${e.when}, ${e.event}, ${e.owner}, ${e.actor}, ${e.dagId ?? null}, ${e.runId ?? null},
      ${e.taskId ?? null}, ${e.mapIndex ?? null}, ${e.tryNumber ?? null}, ${e.logicalDate ?? null},
      ${e.clientAddr}, ${json(e.extra)})`;
}

export interface AuditFilter {
  dagId?: string | null;
  taskId?: string | null;
  runId?: string | null;
  mapIndex?: number | null;
  tryNumber?: number | null;
  owner?: string | null;
  event?: string | null;
  includedEvents?: string[];
  excludedEvents?: string[];
  before?: Date | null;
  after?: Date | null;
}

function conditions(f: AuditFilter): Fragment[] {
  const c: Fragment[] = [];
  const exact = [
    ["dag_id", f.dagId],
    ["task_id", f.taskId],
    ["run_id", f.runId],
    ["map_index", f.mapIndex],
    ["try_number", f.tryNumber],
    ["owner", f.owner],
    ["event", f.event],
  ] as const;
  for (const [column, value] of exact) {
    if (value !== null && value !== undefined) c.push(frag([`${column} = `, ``], value));
  }
  if (f.includedEvents?.length) c.push(frag`event = ANY(${f.includedEvents}::text[])`);
  if (f.excludedEvents?.length) c.push(frag`NOT (event = ANY(${f.excludedEvents}::text[]))`);
  if (f.before) c.push(frag`dttm < ${f.before}`);
  if (f.after) c.push(frag`dttm > ${f.after}`);
  return c;
}

const SELECT = `SELECT id, dttm AS "when", event, owner, actor, dag_id AS "dagId",
  run_id AS "runId", task_id AS "taskId", map_index AS "mapIndex", try_number AS "tryNumber",
  logical_date AS "logicalDate", client_addr AS "clientAddr", extra FROM audit_log`;

export async function listAuditPage(
  sql: Sql,
  filter: AuditFilter,
  order: Fragment,
  limit: number,
  offset: number,
): Promise<{ total: number; rows: AuditRow[] }> {
  const w = where(conditions(filter));
  const [{ total }] = await query<{ total: number }>(
    sql,
    frag`SELECT count(*)::int AS total FROM audit_log ${w}`,
  );
  const rows = await query<AuditRow>(
    sql,
    frag([`${SELECT} `, ` `, ` LIMIT `, ` OFFSET `, ``], w, order, limit, offset),
  );
  return { total, rows };
}

export async function getAuditRow(sql: Sql, id: number): Promise<AuditRow | null> {
  const [row] = await query<AuditRow>(sql, frag([`${SELECT} WHERE id = `, ``], id));
  return row ?? null;
}

/** A login rate limit: at most `count` failures after `since`. */
export interface LoginLimit {
  count: number;
  since: Date;
}

/** Failed logins of a name after `since` and after its last successful login. */
const failuresOfName = (name: unknown, since: unknown) =>
  frag`SELECT a.dttm FROM audit_log a
    WHERE a.event = 'login_failed' AND lower(a.owner) = lower(${name})
      AND a.dttm > GREATEST(${since}::timestamptz,
        (SELECT last_login_at FROM app_user WHERE lower(username) = lower(${name})))`;

const failuresOfAddress = (addr: unknown, since: unknown) =>
  frag`SELECT dttm FROM audit_log
    WHERE event = 'login_failed' AND client_addr = ${addr} AND dttm > ${since}`;

const LOGIN_LOCK_CLASS = 7_406_840; // arbitrary, constant: "gust login attempts", then a key

/**
 * Records a login attempt as failed before its password is checked, unless the name or the
 * address is over its limit; returns the row's id, or null when the attempt is refused. The
 * count and the insert happen under locks on the name and the address (taken in that order,
 * so two attempts cannot wait on each other in a cycle), before the slow check, so a burst of
 * parallel attempts is held to the limit exactly. A successful login turns its row into a
 * `login` (completeLogin).
 */
export async function insertLoginAttempt(
  tx: Sql,
  e: AuditEntry & { owner: string },
  limits: { user: LoginLimit | null; address: LoginLimit | null },
): Promise<number | null> {
  const checks: Fragment[] = [];
  if (limits.user) {
    checks.push(
      frag`(SELECT count(*) FROM (${
        failuresOfName(e.owner, limits.user.since)
      }) f) < ${limits.user.count}`,
    );
  }
  if (limits.address && e.clientAddr !== null) {
    checks.push(
      frag`(SELECT count(*) FROM (${
        failuresOfAddress(e.clientAddr, limits.address.since)
      }) f) < ${limits.address.count}`,
    );
  }
  await tx`SELECT pg_advisory_xact_lock(${LOGIN_LOCK_CLASS}, hashtext(lower(${e.owner})))`;
  if (e.clientAddr !== null) {
    await tx`SELECT pg_advisory_xact_lock(${LOGIN_LOCK_CLASS + 1}, hashtext(${e.clientAddr}))`;
  }
  const rows = await query<{ id: number }>(
    tx,
    frag`INSERT INTO audit_log (dttm, event, owner, actor, client_addr, extra)
      SELECT ${e.when}, 'login_failed', ${e.owner}, ${e.actor}, ${e.clientAddr}, ${json(e.extra)}
      ${where(checks)}
      RETURNING id`,
  );
  return rows[0]?.id ?? null;
}

/** When a refused login may be tried again: when the failure that fills the limit expires. */
export async function loginRetryAt(
  sql: Sql,
  name: string,
  clientAddr: string | null,
  limits: { user: LoginLimit | null; address: LoginLimit | null },
  windows: { user: number; address: number },
): Promise<Date> {
  let retry = 0;
  const nth = async (source: Fragment, limit: LoginLimit, windowMs: number) => {
    const rows = await query<{ dttm: Date }>(
      sql,
      frag`SELECT dttm FROM (${source}) f ORDER BY dttm DESC OFFSET ${limit.count - 1} LIMIT 1`,
    );
    if (rows[0]) retry = Math.max(retry, new Date(rows[0].dttm).getTime() + windowMs);
  };
  if (limits.user) await nth(failuresOfName(name, limits.user.since), limits.user, windows.user);
  if (limits.address && clientAddr !== null) {
    await nth(
      failuresOfAddress(clientAddr, limits.address.since),
      limits.address,
      windows.address,
    );
  }
  return new Date(retry);
}

/** Turns a login attempt's row into the record of a successful login by `username`. */
export async function completeLogin(
  tx: Sql,
  attemptId: number,
  username: string,
  extra: Record<string, unknown>,
): Promise<void> {
  await tx`UPDATE audit_log SET event = 'login', owner = ${username}, actor = 'user',
    extra = ${json(extra)}
    WHERE id = ${attemptId} AND event = 'login_failed'`;
}
