/** `/health`: is the process up and can it reach its database. JSON, for probes and people. */
import { Hono } from "hono";
import { listSchedulers } from "../db/schedulers.ts";
import type { AppEnv } from "./mod.ts";

export const health = new Hono<AppEnv>().get("/", async (c) => {
  const { db, roles, startedAt } = c.get("deps");
  let database: { status: "healthy" | "unhealthy"; error?: string };
  try {
    await db.sql`SELECT 1`;
    database = { status: "healthy" };
  } catch (error) {
    database = { status: "unhealthy", error: (error as Error).message };
  }
  const healthy = database.status === "healthy";
  const schedulers = healthy ? await listSchedulers(db.sql) : [];
  return c.json({
    status: healthy ? "healthy" : "unhealthy",
    database,
    roles,
    schedulers: schedulers.map((s) => ({
      id: s.id,
      hostname: s.hostname,
      latest_heartbeat: s.lastHeartbeat,
      is_leader: s.isLeader,
      status: s.alive ? "healthy" : "unhealthy",
    })),
    uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
  }, healthy ? 200 : 503);
});
