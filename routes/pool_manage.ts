/**
 * Changes to pools, shared by the `/api/v2/pools` endpoints (and so the CLI) and the dashboard's
 * Pools page. Each change and its audit row are one transaction, and a change that gives slots
 * wakes the schedulers, so tasks waiting for the pool are queued at once.
 */
import { insertAudit } from "../db/audit_log.ts";
import {
  DEFAULT_POOL,
  deletePool,
  insertPool,
  lockPool,
  poolInstancesActive,
  updatePool,
} from "../db/pools.ts";
import { auditEntry } from "./auth_audit.ts";
import type { AuthContext } from "./auth_principal.ts";
import { wakeScheduler } from "./api/util.ts";

export class PoolError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 409) {
    super(message);
  }
}

export const missingPool = (name: string) =>
  new PoolError(`The Pool with name: \`${name}\` was not found`, 404);

export async function createPool(
  c: AuthContext,
  p: { name: string; slots: number; description: string },
): Promise<void> {
  const { db } = c.get("deps");
  await db.begin(async (tx) => {
    if (!await insertPool(tx, p)) {
      throw new PoolError(`Pool with name: \`${p.name}\` already exists`, 409);
    }
    await insertAudit(tx, auditEntry(c, "pool_create", {}, { pool: p.name, slots: p.slots }));
  });
  await wakeScheduler(db); // tasks that name a pool created late may queue now
}

/** Sets what is given; false when nothing changed. */
export async function changePool(
  c: AuthContext,
  name: string,
  change: { slots?: number; description?: string },
): Promise<boolean> {
  const { db } = c.get("deps");
  const changed = await db.begin(async (tx) => {
    const was = await lockPool(tx, name);
    if (!was) throw missingPool(name);
    const next = {
      slots: change.slots ?? was.slots,
      description: change.description ?? was.description,
    };
    if (next.slots === was.slots && next.description === was.description) return false;
    await updatePool(tx, name, next);
    await insertAudit(
      tx,
      auditEntry(c, "pool_update", {}, { pool: name, from_slots: was.slots, slots: next.slots }),
    );
    return true;
  });
  if (changed) await wakeScheduler(db); // more slots: the scheduler can queue into them now
  return changed;
}

/**
 * Refused for the default pool, and while task instances are scheduled, queued or running in
 * the pool: they would fail for a missing pool, or run outside any limit.
 */
export async function removePool(c: AuthContext, name: string): Promise<void> {
  if (name === DEFAULT_POOL) throw new PoolError("Default Pool can't be deleted", 400);
  await c.get("deps").db.begin(async (tx) => {
    if (!await lockPool(tx, name)) throw missingPool(name);
    const active = await poolInstancesActive(tx, name);
    if (active > 0) {
      throw new PoolError(
        `Pool \`${name}\` has ${active} task instance(s) scheduled, queued or running; ` +
          "delete it once they are done, or give their tasks another pool",
        400,
      );
    }
    await deletePool(tx, name);
    await insertAudit(tx, auditEntry(c, "pool_delete", {}, { pool: name }));
  });
}
