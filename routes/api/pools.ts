/**
 * `/api/v2/pools`: list, read, create, resize and delete pools (Op). A pool keeps its name, since
 * tasks name their pool in code; `default_pool` can be resized but not deleted, and a pool that
 * task instances hold or wait for cannot be deleted (they would fail for a missing pool).
 */
import { Hono } from "hono";
import type { z } from "zod";
import { getPool, listPoolsPage, openSlots, type PoolRow } from "../../db/pools.ts";
import type { AppEnv } from "../mod.ts";
import { changePool, createPool, missingPool, PoolError, removePool } from "../pool_manage.ts";
import { type ApiContext, apiError, badRequest, body, QueryReader } from "./common.ts";
import { PoolBody, PoolPatchBody, type PoolResponse } from "./schemas.ts";

const POOL_ORDER: Record<string, string> = {
  id: "p.name",
  pool: "p.name",
  name: "p.name",
  slots: "p.slots",
};

const PATCHABLE = ["pool", "slots", "description", "include_deferred"] as const;

export function poolResponse(p: PoolRow): z.infer<typeof PoolResponse> {
  return {
    name: p.name,
    slots: p.slots,
    description: p.description === "" ? null : p.description,
    include_deferred: false,
    occupied_slots: p.runningSlots + p.queuedSlots,
    running_slots: p.runningSlots,
    queued_slots: p.queuedSlots,
    scheduled_slots: p.scheduledSlots,
    open_slots: openSlots(p),
    deferred_slots: 0,
  };
}

/** The pool as it is now, after `change` (a refusal it raises becomes the answer). */
async function poolAnswer(c: ApiContext, name: string, change?: () => Promise<unknown>) {
  try {
    await change?.();
    const pool = await getPool(c.get("deps").db.sql, name);
    if (!pool) throw missingPool(name);
    return poolResponse(pool);
  } catch (error) {
    if (error instanceof PoolError) apiError(error.status, error.message);
    throw error;
  }
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
  .get("/:pool_name", async (c) => c.json(await poolAnswer(c, c.req.param("pool_name"))))
  .post("/", async (c) => {
    const b = await body(c, PoolBody);
    const pool = { name: b.name, slots: b.slots, description: b.description ?? "" };
    return c.json(await poolAnswer(c, b.name, () => createPool(c, pool)), 201);
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
    const change = {
      ...(fields.has("slots") ? { slots: b.slots! } : {}),
      ...(fields.has("description") ? { description: b.description ?? "" } : {}),
    };
    return c.json(await poolAnswer(c, name, () => changePool(c, name, change)));
  })
  .delete("/:pool_name", async (c) => {
    try {
      await removePool(c, c.req.param("pool_name"));
    } catch (error) {
      if (error instanceof PoolError) apiError(error.status, error.message);
      throw error;
    }
    return c.body(null, 204);
  });
