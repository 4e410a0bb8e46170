/**
 * `/api/v2/pools`: list, read, create, resize and delete pools (Op). A pool keeps its name, since
 * tasks name their pool in code; `default_pool` can be resized but not deleted, and a pool that
 * task instances hold or wait for cannot be deleted (they would fail for a missing pool).
 */
import { Hono } from "hono";
import { insertAudit } from "../../db/audit_log.ts";
import {
  DEFAULT_POOL,
  deletePool,
  getPool,
  insertPool,
  listPoolsPage,
  lockPool,
  poolInstancesActive,
  type PoolRow,
  updatePool,
} from "../../db/pools.ts";
import { auditEntry } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import { type ApiContext, apiError, badRequest, body, notFound, QueryReader } from "./common.ts";
import { PoolBody, PoolPatchBody, type PoolResponse } from "./schemas.ts";
import type { z } from "zod";
import { wakeScheduler } from "./util.ts";

const POOL_ORDER: Record<string, string> = {
  id: "p.name",
  pool: "p.name",
  name: "p.name",
  slots: "p.slots",
};

const PATCHABLE = ["pool", "slots", "description", "include_deferred"] as const;

export function poolResponse(p: PoolRow): z.infer<typeof PoolResponse> {
  const occupied = p.runningSlots + p.queuedSlots;
  return {
    name: p.name,
    slots: p.slots,
    description: p.description === "" ? null : p.description,
    include_deferred: false,
    occupied_slots: occupied,
    running_slots: p.runningSlots,
    queued_slots: p.queuedSlots,
    scheduled_slots: p.scheduledSlots,
    open_slots: p.slots < 0 ? -1 : p.slots - occupied,
    deferred_slots: 0,
  };
}

const missing = (name: string): never => notFound(`The Pool with name: \`${name}\` was not found`);

async function poolOr404(c: ApiContext, name: string): Promise<PoolRow> {
  return (await getPool(c.get("deps").db.sql, name)) ?? missing(name);
}

export const pools = new Hono<AppEnv>()
  .get("/", async (c) => {
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    q.done();
    const order = q.orderBy(POOL_ORDER, "id", "p.name");
    const pattern = q.string("pool_name_pattern");
    const page = await listPoolsPage(
      c.get("deps").db.sql,
      { namePattern: pattern === "~" ? null : pattern },
      order,
      limit,
      offset,
    );
    return c.json({ pools: page.pools.map(poolResponse), total_entries: page.total });
  })
  .get(
    "/:pool_name",
    async (c) => c.json(poolResponse(await poolOr404(c, c.req.param("pool_name")))),
  )
  .post("/", async (c) => {
    const b = await body(c, PoolBody);
    const { db } = c.get("deps");
    const p = { name: b.name, slots: b.slots, description: b.description ?? "" };
    const created = await db.begin(async (tx) => {
      if (!await insertPool(tx, p)) return false;
      await insertAudit(tx, auditEntry(c, "pool_create", {}, { pool: p.name, slots: p.slots }));
      return true;
    });
    if (!created) apiError(409, `Pool with name: \`${p.name}\` already exists`);
    await wakeScheduler(db); // tasks scheduled into a pool created late may queue now
    return c.json(poolResponse((await getPool(db.sql, p.name))!), 201);
  })
  .patch("/:pool_name", async (c) => {
    const name = c.req.param("pool_name");
    const b = await body(c, PoolPatchBody);
    const mask = new QueryReader(c).list("update_mask");
    const unknown = mask.filter((f) => !(PATCHABLE as readonly string[]).includes(f));
    if (unknown.length) {
      badRequest(`Only ${PATCHABLE.join(", ")} can be updated; not ${unknown.join(", ")}`);
    }
    const fields = new Set<string>(mask.length ? mask : Object.keys(b));
    if (fields.has("pool") && b.pool !== name) {
      badRequest("A pool cannot be renamed: its tasks name it in their DAG's code");
    }
    if (fields.has("slots") && (b.slots === undefined || b.slots === null)) {
      badRequest("slots must be given, as -1 (unlimited) or more");
    }
    const { db } = c.get("deps");
    const changed = await db.begin(async (tx) => {
      const was = await lockPool(tx, name);
      if (!was) return missing(name);
      const next = {
        slots: fields.has("slots") ? b.slots! : was.slots,
        description: fields.has("description") ? b.description ?? "" : was.description,
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
    return c.json(poolResponse(await poolOr404(c, name)));
  })
  .delete("/:pool_name", async (c) => {
    const name = c.req.param("pool_name");
    if (name === DEFAULT_POOL) badRequest("Default Pool can't be deleted");
    await c.get("deps").db.begin(async (tx) => {
      if (!await lockPool(tx, name)) return missing(name);
      const active = await poolInstancesActive(tx, name);
      if (active > 0) {
        badRequest(
          `Pool \`${name}\` has ${active} task instance(s) scheduled, queued or running; ` +
            "delete it once they are done, or give their tasks another pool",
        );
      }
      await deletePool(tx, name);
      await insertAudit(tx, auditEntry(c, "pool_delete", {}, { pool: name }));
    });
    return c.body(null, 204);
  });
