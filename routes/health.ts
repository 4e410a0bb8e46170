/** `/health`: is the process up and can it reach its database. JSON, for probes and people. */
import { Hono } from "hono";
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
  const schedulers = healthy
    ? await db.sql<
      { id: string; hostname: string; lastHeartbeat: Date; isLeader: boolean; alive: boolean }
    >`
      SELECT id, hostname, last_heartbeat AS "lastHeartbeat", is_leader AS "isLeader",
        last_heartbeat > now() - interval '30 seconds' AS alive
      FROM scheduler_instance ORDER BY started_at`
    : [];
  return c.json({
    status: healthy ? "healthy" : "unhealthy",
    database,
    roles,
    schedulers: schedulers.map((s) => ({
      id: s.id,
      hostname: s.hostname,
      latest_heartbeat: s.lastHeartbeat,
      is_leader: s.isLeader && s.alive,
      status: s.alive ? "healthy" : "unhealthy",
    })),
    uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
  }, healthy ? 200 : 503);
});
