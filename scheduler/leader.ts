/**
 * Leader election among schedulers. The leader holds a session advisory lock on a connection of
 * its own and renews a lease row that carries an epoch. The lock alone is not enough (measured:
 * a frozen process keeps its lock while the kernel answers keepalives, and a leader cut off from
 * the database believes it leads for a while), so:
 * - a standby that sees the lease expired terminates the holder's backend and takes over;
 * - a leader that cannot renew stops acting as leader when its lease runs out, by its own clock;
 * - every leader-only write runs behind `fence()`, which checks the epoch in the same
 *   transaction, so a deposed leader's late writes are refused.
 * Lease times are measured by the database's clock, so schedulers need not agree on the time.
 */
import type { Db, Session, Sql } from "../db/client.ts";

const LEADER_LOCK = 7_406_820;

export class NotLeaderError extends Error {
  constructor() {
    super("This scheduler is not the leader");
    this.name = "NotLeaderError";
  }
}

export interface LeaderOptions {
  id: string;
  hostname: string;
  leaseMs?: number;
  heartbeatMs?: number;
  log?: (message: string) => void;
  onChange?: (leading: boolean) => void;
}

export class LeaderElection {
  private session: Session | null = null;
  private epoch: number | null = null;
  /** Local deadline (performance.now) past which this process must not act as leader. */
  private validUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly startedAt = new Date();

  constructor(private readonly db: Db, private readonly o: LeaderOptions) {
    this.leaseMs = o.leaseMs ?? 10_000;
    this.heartbeatMs = o.heartbeatMs ?? Math.max(100, Math.floor(this.leaseMs / 5));
  }

  get id(): string {
    return this.o.id;
  }

  isLeader(): boolean {
    return this.epoch !== null && performance.now() < this.validUntil;
  }

  currentEpoch(): number | null {
    return this.isLeader() ? this.epoch : null;
  }

  async start(): Promise<void> {
    await this.step();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      await this.step();
      this.schedule();
    }, this.heartbeatMs);
  }

  /** One heartbeat: renew the lease if leading, else try to become leader. */
  async step(): Promise<void> {
    try {
      this.session ??= await this.db.session();
      if (this.epoch !== null) await this.renew(this.session.sql);
      else await this.tryAcquire(this.session.sql);
    } catch (error) {
      this.o.log?.(`Leader election: ${(error as Error).message}`);
      // The session may be broken (terminated, network): start a new one next time.
      await this.session?.close().catch(() => {});
      this.session = null;
      if (this.epoch !== null && performance.now() >= this.validUntil) this.stepDown("lease lost");
    }
    await this.recordInstance().catch(() => {});
  }

  private async renew(sql: Sql): Promise<void> {
    const started = performance.now();
    // backend_pid = pg_backend_pid(): a reconnected session no longer holds the lock.
    const renewed = await sql`
      UPDATE scheduler_lease SET expires_at = now() + make_interval(secs => ${this.leaseMs / 1000})
      WHERE name = 'leader' AND holder = ${this.o.id} AND epoch = ${this.epoch}
        AND backend_pid = pg_backend_pid()
      RETURNING epoch`;
    if (renewed.length) this.validUntil = started + this.leaseMs;
    else this.stepDown("another scheduler took over");
  }

  private async tryAcquire(sql: Sql): Promise<void> {
    const [{ locked }] = await sql<{ locked: boolean }>`
      SELECT pg_try_advisory_lock(${LEADER_LOCK}) AS locked`;
    if (!locked) {
      await this.evictExpiredHolder();
      return;
    }
    const started = performance.now();
    const [row] = await sql<{ epoch: number }>`
      UPDATE scheduler_lease SET holder = ${this.o.id}, epoch = epoch + 1,
        backend_pid = pg_backend_pid(),
        expires_at = now() + make_interval(secs => ${this.leaseMs / 1000})
      WHERE name = 'leader'
      RETURNING epoch::int AS epoch`;
    this.epoch = row.epoch;
    this.validUntil = started + this.leaseMs;
    this.o.log?.(`This scheduler leads (epoch ${row.epoch})`);
    this.o.onChange?.(true);
  }

  /**
   * A holder whose lease ran out keeps its lock only if it is frozen or cut off: end it. Its
   * session is not all: a leader frozen inside a fenced transaction (on a pooled connection)
   * holds the lease row FOR SHARE, and the takeover's UPDATE of that row would wait for it for
   * as long as the process stays frozen. Only `fence()` takes that lock mode on the table (a
   * RowShareLock), so every backend holding it belongs to the expired leader: end those too.
   */
  private async evictExpiredHolder(): Promise<void> {
    const [lease] = await this.db.sql<
      { holder: string | null; pid: number | null; expired: boolean }
    >`
      SELECT holder, backend_pid AS pid, expires_at < now() AS expired
      FROM scheduler_lease WHERE name = 'leader'`;
    if (!lease?.expired || !lease.pid || lease.holder === this.o.id) return;
    this.o.log?.(`Leader ${lease.holder} let its lease expire; terminating its connections`);
    await this.db.sql`
      SELECT pg_terminate_backend(pid) FROM (
        SELECT ${lease.pid}::int AS pid
        UNION
        SELECT pid FROM pg_locks
        WHERE locktype = 'relation' AND relation = 'scheduler_lease'::regclass
          AND mode = 'RowShareLock' AND granted AND pid <> pg_backend_pid()
      ) AS holders`;
  }

  private stepDown(reason: string): void {
    if (this.epoch === null) return;
    this.o.log?.(`This scheduler no longer leads: ${reason}`);
    this.epoch = null;
    this.validUntil = 0;
    const session = this.session;
    if (session) session.sql`SELECT pg_advisory_unlock_all()`.catch(() => {});
    this.o.onChange?.(false);
  }

  /**
   * Call first inside the transaction of a leader-only write. Locks the lease row for share,
   * so a takeover waits for this transaction, and throws NotLeaderError if the epoch moved on.
   */
  async fence(tx: Sql): Promise<void> {
    if (!this.isLeader()) throw new NotLeaderError();
    const rows = await tx`
      SELECT 1 FROM scheduler_lease
      WHERE name = 'leader' AND holder = ${this.o.id} AND epoch = ${this.epoch}
        AND expires_at > now()
      FOR SHARE`;
    if (rows.length === 0) throw new NotLeaderError();
  }

  private async recordInstance(): Promise<void> {
    await this.db.sql`
      INSERT INTO scheduler_instance (id, hostname, pid, started_at, last_heartbeat, is_leader)
      VALUES (${this.o.id}, ${this.o.hostname}, ${Deno.pid}, ${this.startedAt}, now(), ${this.isLeader()})
      ON CONFLICT (id) DO UPDATE SET last_heartbeat = now(), is_leader = EXCLUDED.is_leader`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.epoch !== null) {
      // Hand over at once instead of making the standbys wait for the lease to run out.
      await this.db.sql`
        UPDATE scheduler_lease SET expires_at = '-infinity'
        WHERE name = 'leader' AND holder = ${this.o.id} AND epoch = ${this.epoch}`.catch(() => {});
    }
    this.epoch = null;
    await this.db.sql`DELETE FROM scheduler_instance WHERE id = ${this.o.id}`.catch(() => {});
    await this.session?.close().catch(() => {});
    this.session = null;
  }
}
