/**
 * Audit rows for what a request changes, with who (the principal), when (the request's
 * clock) and from where (client address, user agent). A writer is handed to the function that
 * makes the change and is called inside its transaction, so the row commits or rolls back
 * with the change.
 */
import { lockDagPaused } from "../db/api_dags.ts";
import type { Actor, AuditEntry, AuditTarget } from "../db/audit_log.ts";
import { insertAudit } from "../db/audit_log.ts";
import type { Sql } from "../db/client.ts";
import { setPaused } from "../db/dags.ts";
import type { ClearedInstance } from "../scheduler/clear.ts";
import type { MarkedInstance } from "../scheduler/mark.ts";
import {
  type AuthContext,
  clientAddress,
  now,
  type Principal,
  userAgent,
} from "./auth_principal.ts";

const ACTORS: Record<Principal["kind"], Actor> = {
  user: "user",
  api_token: "api_token",
  cli: "cli",
};

/** Who a row names when the request has no principal (a webhook, a failed login). */
export interface Anonymous {
  owner: string | null;
  actor: Actor;
}

export function auditEntry(
  c: AuthContext,
  event: string,
  target: AuditTarget = {},
  extra: Record<string, unknown> = {},
  who?: Anonymous,
): AuditEntry {
  const principal = c.get("principal") ?? null;
  const clientAddr = clientAddress(c);
  return {
    when: now(c),
    event,
    owner: who ? who.owner : principal?.name ?? null,
    actor: who ? who.actor : principal ? ACTORS[principal.kind] : "anonymous",
    ...target,
    clientAddr,
    extra: {
      ...extra,
      ...(principal && !who ? { auth: principal.via } : {}),
      client_addr: clientAddr,
      user_agent: userAgent(c),
    },
  };
}

export type AuditWriter = (tx: Sql) => Promise<void>;

/** A function that writes the row into the transaction it is given. */
export function auditWriter(
  c: AuthContext,
  event: string,
  target: AuditTarget = {},
  extra: Record<string, unknown> = {},
): AuditWriter {
  const entry = auditEntry(c, event, target, extra);
  return (tx) => insertAudit(tx, entry);
}

/**
 * Pauses or unpauses a DAG and records it, in one transaction; false when it already was,
 * null when there is no such DAG.
 */
export async function setPausedAudited(
  c: AuthContext,
  dagId: string,
  paused: boolean,
): Promise<boolean | null> {
  return await c.get("deps").db.begin(async (tx) => {
    const was = await lockDagPaused(tx, dagId);
    if (was === null || was === paused) return was === null ? null : false;
    await setPaused(tx, dagId, paused);
    await insertAudit(tx, auditEntry(c, paused ? "pause" : "unpause", { dagId }));
    return true;
  });
}

/** One task (and map index) when a change touched only that, for the row's own columns. */
function oneTask(instances: { taskId: string; mapIndex: number }[]): AuditTarget {
  const tasks = new Set(instances.map((i) => i.taskId));
  if (tasks.size !== 1) return {};
  return {
    taskId: instances[0].taskId,
    mapIndex: instances.length === 1 ? instances[0].mapIndex : null,
  };
}

/** For `triggerRun`: records the run it created. */
export const auditTrigger =
  (c: AuthContext, dagId: string, extra: Record<string, unknown> = {}) =>
  (tx: Sql, run: { runId: string; logicalDate?: Date | null }) =>
    insertAudit(
      tx,
      auditEntry(c, "trigger", { dagId, runId: run.runId, logicalDate: run.logicalDate }, extra),
    );

/** For `clearTaskInstances`: one row per run it cleared. */
export const auditClear =
  (c: AuthContext, dagId: string) => (tx: Sql, cleared: ClearedInstance[]) =>
    insertAudit(
      tx,
      auditEntry(c, "clear", { dagId, runId: cleared[0]?.runId, ...oneTask(cleared) }, {
        task_instances: cleared.length,
        task_ids: [...new Set(cleared.map((x) => x.taskId))],
      }),
    );

/** For `markTaskInstances`: what it marked, and the state. */
export const auditMarkTasks =
  (c: AuthContext, dagId: string, runId: string, state: string) =>
  (tx: Sql, marked: MarkedInstance[]) =>
    insertAudit(
      tx,
      auditEntry(c, "mark_task_instance", { dagId, runId, ...oneTask(marked) }, {
        state,
        task_instances: marked.length,
        task_ids: [...new Set(marked.map((x) => x.taskId))],
      }),
    );
