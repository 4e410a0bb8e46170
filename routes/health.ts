/** `/health`: is the process up and can it reach its database. JSON, for probes and people. */
import { Hono } from "hono";
import type { Db } from "../db/client.ts";
import { listSchedulers } from "../db/schedulers.ts";
import type { AppEnv } from "./mod.ts";

/**
 * How long a probe's database check may take. A database host that accepts connections and
 * then says nothing would otherwise hold the answer for the driver's 30 s connect timeout,
 * longer than any probe or scrape waits.
 */
export const DATABASE_CHECK_MS = 3000;

/** Runs `read` against the database, or fails naming the wait once DATABASE_CHECK_MS pass. */
export async function withinCheck<T>(read: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the database did not answer within ${DATABASE_CHECK_MS / 1000} s`)),
      DATABASE_CHECK_MS,
    );
  });
  try {
    return await Promise.race([read(), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function pingDatabase(db: Db): Promise<void> {
  await withinCheck(() => db.sql`SELECT 1`);
}

export const health = new Hono<AppEnv>().get("/", async (c) => {
  const { db, roles, startedAt } = c.get("deps");
  let database: { status: "healthy" | "unhealthy"; error?: string };
  try {
    await pingDatabase(db);
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
