// Turns a DAG's schedule into the runs Airflow would create, with Airflow's classic data-interval
// semantics (CronDataIntervalTimetable, OnceTimetable, NullTimetable). Pure: no clock, no I/O.
import { Cron } from "croner";

export interface DataInterval {
  start: Date;
  end: Date;
}
export interface DagRunInfo {
  logicalDate: Date;
  dataInterval: DataInterval;
  runAfter: Date;
}
export interface TimetableOptions {
  schedule: string | null;
  timezone: string;
  startDate: Date | null;
  endDate: Date | null;
}
export interface Timetable {
  readonly kind: "cron" | "once" | "none";
  readonly description: string;
  next(last: DataInterval | null, opts: { catchup: boolean; now: Date }): DagRunInfo | null;
  between(from: Date, to: Date): DagRunInfo[];
  inferManual(logicalDate: Date): DataInterval;
}

export class TimetableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimetableError";
  }
}

const MAX_RUNS = 100_000;

// Airflow's cron_presets, plus the Vixie-cron aliases @annually and @midnight. Translated here
// rather than by croner: croner rejects @quarterly, and the UI should show the real expression.
const PRESETS: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@quarterly": "0 0 1 */3 *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

const copy = (d: Date) => new Date(d.getTime());

/**
 * A cron's fire times around an instant, remembered. The scheduler asks every due DAG for its
 * next run at each tick, and DAGs on one schedule ask the same questions (the fire times around
 * the tick and their last interval's end); croner answers one in 0.005 ms for UTC and 0.1 ms
 * or more for other zones (measured here), which a thousand DAGs multiply.
 */
class FireTimes {
  private readonly next = new Map<number, Date | null>();
  private readonly previous = new Map<number, Date | null>();

  constructor(readonly cron: Cron) {}

  /** The first fire time strictly after `t`. */
  after(t: Date): Date | null {
    return this.remember(this.next, t, () => this.cron.nextRun(t));
  }

  /** The last fire time strictly before `t`. */
  before(t: Date): Date | null {
    return this.remember(this.previous, t, () => this.cron.previousRuns(1, t)[0] ?? null);
  }

  private remember(memo: Map<number, Date | null>, t: Date, find: () => Date | null) {
    let found = memo.get(t.getTime());
    if (found === undefined) {
      if (memo.size >= 1024) memo.clear();
      found = find();
      memo.set(t.getTime(), found);
    }
    return found && copy(found); // callers get their own Date
  }
}

const fireTimes = new Map<string, FireTimes>();

type Parsed =
  | { kind: "none" | "once"; description: string }
  | { kind: "cron"; description: string; fires: FireTimes };

function parse(schedule: string | null, timezone: string): Parsed {
  try {
    if (typeof timezone !== "string" || timezone === "") throw new RangeError();
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new TimetableError(`Unknown timezone "${timezone}"`);
  }
  if (schedule === null) {
    return { kind: "none", description: "None (manual and webhook triggers only)" };
  }
  const text = schedule.trim().replace(/\s+/g, " ");
  if (text.toLowerCase() === "@once") return { kind: "once", description: "@once" };
  let expression = text;
  let description = text;
  if (text.startsWith("@")) {
    const preset = PRESETS[text.toLowerCase()];
    if (!preset) {
      const known = ["@once", ...Object.keys(PRESETS)].join(", ");
      throw new TimetableError(`Unknown schedule preset "${schedule}" (expected one of ${known})`);
    }
    expression = preset;
    description = `${text.toLowerCase()} (${preset})`;
  }
  const fields = expression === "" ? [] : expression.split(" ");
  const invalid = (why: string) =>
    new TimetableError(`Invalid cron expression "${schedule}": ${why}`);
  if (fields.length !== 5) {
    // croner would read a sixth leading field as seconds; Airflow/croniter read it differently,
    // so a six-field pattern is ambiguous and Gust refuses it outright.
    const extra = fields.length > 5 ? "; seconds and year fields are not supported" : "";
    throw invalid(
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}${extra}`,
    );
  }
  const key = `${expression}|${timezone}`;
  let fires = fireTimes.get(key);
  if (!fires) {
    let cron: Cron;
    try {
      // domAndDow false keeps standard cron's OR rule when both day fields are restricted. UTC
      // as a fixed offset: the same fire times, without croner's Intl conversions at each step.
      const zone = timezone === "UTC" || timezone === "Etc/UTC" ? { utcOffset: 0 } : { timezone };
      cron = new Cron(expression, { ...zone, mode: "5-part", domAndDow: false });
    } catch (e) {
      throw invalid(String((e as Error).message ?? e).replace(/^CronPattern: /, ""));
    }
    // e.g. "0 0 31 4 *": valid syntax, but a timetable that can never produce a run.
    if (cron.nextRun(new Date(0)) === null) throw invalid("it never fires");
    if (fireTimes.size >= 1000) fireTimes.clear();
    fires = new FireTimes(cron);
    fireTimes.set(key, fires);
  }
  const [, , dom, , dow] = fields;
  if (![dom, dow].some((f) => f === "*" || f === "?") && !dow.startsWith("+")) {
    description += " (day-of-month OR day-of-week)";
  }
  return { kind: "cron", description, fires };
}

/** Validate only (used when loading DAG files): returns null when fine, else the message. */
export function validateSchedule(schedule: string | null, timezone: string): string | null {
  try {
    parse(schedule, timezone);
    return null;
  } catch (e) {
    if (e instanceof TimetableError) return e.message;
    throw e;
  }
}

const later = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);
const exact = (d: Date): DagRunInfo => ({
  logicalDate: copy(d),
  dataInterval: { start: copy(d), end: copy(d) },
  runAfter: copy(d),
});

class CronTimetable implements Timetable {
  readonly kind = "cron";
  /** The first aligned start, asked for at every `next`: it never changes. */
  private firstStart: Date | null = null;

  constructor(
    readonly description: string,
    private readonly fires: FireTimes,
    private readonly startDate: Date,
    private readonly endDate: Date | null,
  ) {}

  // Airflow's _get_next / _get_prev: strictly after / strictly before `t`.
  private after(t: Date): Date {
    const d = this.fires.after(t);
    if (!d) {
      throw new TimetableError(`"${this.description}" has no fire time after ${t.toISOString()}`);
    }
    return d;
  }
  private before(t: Date): Date {
    const d = this.fires.before(t);
    if (!d) {
      throw new TimetableError(`"${this.description}" has no fire time before ${t.toISOString()}`);
    }
    return d;
  }
  // Airflow's _align_to_next / _align_to_prev: `t` itself when it is a fire time. The round trip
  // (rather than cron.match) is Airflow's test and also treats sub-second offsets as unaligned.
  private alignNext(t: Date): Date {
    const n = this.after(t);
    return this.before(n).getTime() === t.getTime() ? t : n;
  }
  private alignPrev(t: Date): Date {
    const p = this.before(t);
    return this.after(p).getTime() === t.getTime() ? t : p;
  }
  private interval(start: Date): DagRunInfo {
    const end = this.after(start);
    return { logicalDate: copy(start), dataInterval: { start: copy(start), end }, runAfter: end };
  }

  // CronDataIntervalTimetable._skip_to_latest: start of the latest interval with end <= now.
  private skipToLatest(now: Date): Date {
    const lastStart = this.before(now);
    const onBoundary = this.after(lastStart).getTime() === now.getTime();
    return onBoundary ? lastStart : this.before(lastStart);
  }

  // _DataIntervalTimetable.next_dagrun_info with TimeRestriction(startDate, endDate, catchup).
  next(last: DataInterval | null, opts: { catchup: boolean; now: Date }): DagRunInfo | null {
    this.firstStart ??= this.alignNext(this.startDate);
    let earliest = this.firstStart;
    if (!opts.catchup) earliest = later(this.skipToLatest(opts.now), earliest);
    // Re-aligning last.end matters when the schedule changed since the last run.
    const start = last ? later(this.alignPrev(last.end), earliest) : earliest;
    if (this.endDate && start.getTime() > this.endDate.getTime()) return null;
    return this.interval(start);
  }

  // Airflow's DAG.iter_dagrun_infos_between (align=True), clamped to startDate/endDate.
  between(from: Date, to: Date): DagRunInfo[] {
    const latest = this.endDate && this.endDate.getTime() < to.getTime() ? this.endDate : to;
    const runs: DagRunInfo[] = [];
    let start = this.alignNext(later(from, this.startDate));
    while (start.getTime() <= latest.getTime()) {
      if (runs.length === MAX_RUNS) {
        throw new TimetableError(
          `More than ${MAX_RUNS} runs of "${this.description}" between ${from.toISOString()} and ` +
            `${to.toISOString()}; use a shorter window`,
        );
      }
      const run = this.interval(start);
      runs.push(run);
      start = run.dataInterval.end;
    }
    return runs;
  }

  // CronDataIntervalTimetable.infer_manual_data_interval: the last complete interval, i.e. the
  // one ending at the latest fire time <= the trigger time.
  inferManual(logicalDate: Date): DataInterval {
    const end = copy(this.alignPrev(logicalDate));
    return { start: this.before(end), end };
  }
}

/** Throws TimetableError with a message naming the problem. */
export function createTimetable(opts: TimetableOptions): Timetable {
  const parsed = parse(opts.schedule, opts.timezone);
  const { startDate, endDate } = opts;
  for (const [name, d] of [["start", startDate], ["end", endDate]] as const) {
    if (d !== null && !(d instanceof Date && !isNaN(d.getTime()))) {
      throw new TimetableError(`Invalid ${name} date`);
    }
  }
  // Null and @once timetables infer an exact interval for manual runs (_TrivialTimetable).
  const inferManual = (d: Date): DataInterval => ({ start: copy(d), end: copy(d) });
  if (parsed.kind === "none") {
    // NullTimetable: never schedules.
    return { ...parsed, kind: "none", next: () => null, between: () => [], inferManual };
  }
  if (!startDate) {
    throw new TimetableError(
      parsed.kind === "once"
        ? "A @once schedule needs a start date"
        : "A cron schedule needs a start date",
    );
  }
  if (parsed.kind === "cron") {
    return new CronTimetable(parsed.description, parsed.fires, startDate, endDate);
  }
  // OnceTimetable: a single run at the start date regardless of catchup, unless past endDate.
  const allowed = !endDate || startDate.getTime() <= endDate.getTime();
  return {
    kind: "once",
    description: parsed.description,
    next: (last) => (last === null && allowed ? exact(startDate) : null),
    between: (from, to) =>
      allowed && from.getTime() <= startDate.getTime() && startDate.getTime() <= to.getTime()
        ? [exact(startDate)]
        : [],
    inferManual,
  };
}
