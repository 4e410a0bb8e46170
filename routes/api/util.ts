/** Small helpers the API's route groups share. */
import type { Db } from "../../db/client.ts";
import { RUN_CHANGED_CHANNEL } from "../../db/channels.ts";
import type { ApiContext } from "./common.ts";

/** The request's clock: injected in tests, the system clock otherwise. */
export const now = (c: ApiContext): Date => c.get("deps").clock?.() ?? new Date();

/** Wakes the schedulers after a write; a lost notification only delays them to their next poll. */
export const wakeScheduler = (db: Db): Promise<void> =>
  db.notify(RUN_CHANGED_CHANNEL, "api").catch(() => {});
