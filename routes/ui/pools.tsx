/**
 * `/pools`: the Pools page for every reader, and its forms for those who may manage pools. Each
 * action answers with the page, carrying its notice or its error (404 and 409 as the API answers,
 * 422 for bad input and for a refused change), through the same changes as `/api/v2/pools`.
 */
import { Hono } from "hono";
import { frag } from "../../db/fragment.ts";
import { listPoolsPage, parseSlots, slotsLabel } from "../../db/pools.ts";
import { PoolsPage } from "../../views/pools_page.tsx";
import { PoolBody } from "../api/schemas.ts";
import type { AppEnv } from "../mod.ts";
import { changePool, createPool, PoolError, removePool } from "../pool_manage.ts";
import { formFields, page, type PageStatus, type UiContext } from "./common.tsx";

async function poolsPage(
  c: UiContext,
  o: { notice?: string; error?: string } = {},
  status: PageStatus = 200,
) {
  const { pools } = await listPoolsPage(c.get("deps").db.sql, {}, frag`ORDER BY p.name`, 1000, 0);
  return page(c, <PoolsPage pools={pools} {...o} />, status);
}

const SLOTS_HELP = "Slots are a whole number (0 or more), or unlimited";

/** Runs a change; a refusal becomes the page's error, with its status. */
async function attempt(c: UiContext, change: () => Promise<string>): Promise<Response> {
  try {
    return await poolsPage(c, { notice: await change() });
  } catch (error) {
    if (!(error instanceof PoolError)) throw error;
    return await poolsPage(c, { error: error.message }, error.status === 400 ? 422 : error.status);
  }
}

export const poolsUi = new Hono<AppEnv>()
  .get("/", (c) => poolsPage(c))
  .post("/", async (c) => {
    const f = await formFields(c);
    const slots = parseSlots(f.slots);
    if (slots === null) return await poolsPage(c, { error: SLOTS_HELP }, 422);
    const parsed = PoolBody.safeParse({
      name: (f.name ?? "").trim(),
      slots,
      description: f.description ?? null,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return await poolsPage(c, { error: `Pool ${issue.path.join(".")} ${issue.message}` }, 422);
    }
    const { name, description } = parsed.data;
    return await attempt(c, async () => {
      await createPool(c, { name, slots, description: description ?? "" });
      return `Created pool ${name} with ${slotsLabel(slots)} slots`;
    });
  })
  .post("/:name", async (c) => {
    const name = c.req.param("name");
    const slots = parseSlots((await formFields(c)).slots);
    if (slots === null) return await poolsPage(c, { error: SLOTS_HELP }, 422);
    return await attempt(c, async () => {
      const changed = await changePool(c, name, { slots });
      const shown = slotsLabel(slots);
      return changed ? `${name} has ${shown} slots` : `${name} had ${shown} slots already`;
    });
  })
  .post("/:name/delete", (c) =>
    attempt(c, async () => {
      const name = c.req.param("name");
      await removePool(c, name);
      return `Deleted pool ${name}`;
    }));
