/** A try's log lines, written to the database in batches while the task runs. */
import type { Db } from "../db/client.ts";
import { insertLogs, type LogRow } from "../db/logs.ts";
import type { ClaimedTi } from "../db/task_instances.ts";
import type { LogLine } from "./runner_pool.ts";

/** Collects a try's log lines and writes them in batches, at most every 100 ms. */
export class LogBuffer {
  private rows: LogRow[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly ti: ClaimedTi) {}

  push(line: LogLine): void {
    this.rows.push({ tiId: this.ti.id, tryNumber: this.ti.tryNumber, ...line });
    if (this.rows.length >= 500) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 100);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.rows;
    this.rows = [];
    this.writing = this.writing.then(() => insertLogs(this.db.sql, batch)).catch((error) =>
      console.error(`Could not store ${batch.length} log lines:`, (error as Error).message)
    );
    return this.writing;
  }
}
