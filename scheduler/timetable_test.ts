import assert from "node:assert/strict";
import {
  createTimetable,
  type DagRunInfo,
  type Timetable,
  TimetableError,
  type TimetableOptions,
  validateSchedule,
} from "./timetable.ts";

const d = (iso: string) => new Date(iso);
const iso = (x: Date) => x.toISOString();

function tt(opts: Partial<TimetableOptions>): Timetable {
  return createTimetable({
    schedule: "@daily",
    timezone: "UTC",
    startDate: d("2024-01-01T00:00:00Z"),
    endDate: null,
    ...opts,
  });
}

/** [logicalDate, dataInterval.end] per run; runAfter must equal the interval end. */
function spans(runs: DagRunInfo[]): [string, string][] {
  return runs.map((r) => {
    assert.equal(iso(r.logicalDate), iso(r.dataInterval.start));
    assert.equal(iso(r.runAfter), iso(r.dataInterval.end));
    return [iso(r.logicalDate), iso(r.dataInterval.end)];
  });
}

/** What a scheduler loop does: keep creating runs while the next one is due at `now`. */
function drain(t: Timetable, catchup: boolean, now: Date): DagRunInfo[] {
  const runs: DagRunInfo[] = [];
  let last = null;
  for (let info = t.next(last, { catchup, now }); info; info = t.next(last, { catchup, now })) {
    if (info.runAfter > now) break;
    runs.push(info);
    last = info.dataInterval;
  }
  return runs;
}

Deno.test("every-minute cron with catchup yields every ended interval in order", () => {
  const t = tt({ schedule: "* * * * *" });
  assert.equal(t.kind, "cron");
  assert.equal(t.description, "* * * * *");
  assert.deepEqual(spans(drain(t, true, d("2024-01-01T00:05:30Z"))), [
    ["2024-01-01T00:00:00.000Z", "2024-01-01T00:01:00.000Z"],
    ["2024-01-01T00:01:00.000Z", "2024-01-01T00:02:00.000Z"],
    ["2024-01-01T00:02:00.000Z", "2024-01-01T00:03:00.000Z"],
    ["2024-01-01T00:03:00.000Z", "2024-01-01T00:04:00.000Z"],
    ["2024-01-01T00:04:00.000Z", "2024-01-01T00:05:00.000Z"],
  ]);
  // The next one exists but is not due yet.
  const pending = t.next(
    { start: d("2024-01-01T00:04:00Z"), end: d("2024-01-01T00:05:00Z") },
    { catchup: true, now: d("2024-01-01T00:05:30Z") },
  );
  assert.equal(iso(pending!.runAfter), "2024-01-01T00:06:00.000Z");
});

Deno.test("catchup false jumps to the latest ended interval", () => {
  const t = tt({ schedule: "* * * * *" });
  const now = d("2024-01-01T00:05:30Z");
  const latest = [["2024-01-01T00:04:00.000Z", "2024-01-01T00:05:00.000Z"]];
  assert.deepEqual(spans([t.next(null, { catchup: false, now })!]), latest);
  const old = { start: d("2024-01-01T00:00:00Z"), end: d("2024-01-01T00:01:00Z") };
  assert.deepEqual(spans([t.next(old, { catchup: false, now })!]), latest);
  assert.deepEqual(spans(drain(t, false, now)), latest);
  // `now` exactly on a fire time: the interval ending now has ended.
  assert.deepEqual(
    spans([t.next(null, { catchup: false, now: d("2024-01-01T00:05:00Z") })!]),
    latest,
  );
  // Never earlier than the interval after `last`, even when that is not due yet.
  const done = { start: d("2024-01-01T00:04:00Z"), end: d("2024-01-01T00:05:00Z") };
  assert.deepEqual(spans([t.next(done, { catchup: false, now })!]), [
    ["2024-01-01T00:05:00.000Z", "2024-01-01T00:06:00.000Z"],
  ]);
  // A start date in the future still wins over "latest".
  const future = tt({ schedule: "* * * * *", startDate: d("2024-06-01T00:00:00Z") });
  assert.deepEqual(spans([future.next(null, { catchup: false, now })!]), [
    ["2024-06-01T00:00:00.000Z", "2024-06-01T00:01:00.000Z"],
  ]);
});

Deno.test("a start date off the schedule starts at the first fire time >= start date", () => {
  const t = tt({ schedule: "0 * * * *", startDate: d("2024-01-01T10:17:00Z") });
  assert.deepEqual(spans([t.next(null, { catchup: true, now: d("2024-01-02T00:00:00Z") })!]), [
    ["2024-01-01T11:00:00.000Z", "2024-01-01T12:00:00.000Z"],
  ]);
  // Sub-second offsets count as off-schedule too.
  const ms = tt({ schedule: "0 * * * *", startDate: d("2024-01-01T10:00:00.001Z") });
  assert.equal(
    iso(ms.next(null, { catchup: true, now: d("2024-01-02") })!.logicalDate),
    "2024-01-01T11:00:00.000Z",
  );
  // On the schedule: the start date itself is the first logical date.
  const on = tt({ schedule: "0 * * * *", startDate: d("2024-01-01T10:00:00Z") });
  assert.equal(
    iso(on.next(null, { catchup: true, now: d("2024-01-02") })!.logicalDate),
    "2024-01-01T10:00:00.000Z",
  );
});

Deno.test("end date bounds the logical date (inclusive), then next returns null", () => {
  const t = tt({ schedule: "@daily", endDate: d("2024-01-03T00:00:00Z") });
  const runs = drain(t, true, d("2024-02-01T00:00:00Z"));
  assert.deepEqual(runs.map((r) => iso(r.logicalDate)), [
    "2024-01-01T00:00:00.000Z",
    "2024-01-02T00:00:00.000Z",
    "2024-01-03T00:00:00.000Z",
  ]);
  assert.equal(t.next(runs[2].dataInterval, { catchup: true, now: d("2024-02-01") }), null);
  assert.equal(t.next(null, { catchup: false, now: d("2024-02-01") }), null);
});

Deno.test("@daily in UTC and in America/New_York (local midnight)", () => {
  const utc = tt({ schedule: "@daily" });
  assert.equal(utc.description, "@daily (0 0 * * *)");
  assert.deepEqual(spans(drain(utc, true, d("2024-01-03T00:00:00Z"))), [
    ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    ["2024-01-02T00:00:00.000Z", "2024-01-03T00:00:00.000Z"],
  ]);
  assert.equal(tt({ schedule: "@midnight" }).description, "@midnight (0 0 * * *)");

  // EST is UTC-5, EDT is UTC-4: the interval containing the spring-forward night is 23 hours.
  const ny = tt({
    schedule: "@daily",
    timezone: "America/New_York",
    startDate: d("2024-03-09T00:00:00Z"),
  });
  assert.deepEqual(spans(drain(ny, true, d("2024-03-12T00:00:00Z"))), [
    ["2024-03-09T05:00:00.000Z", "2024-03-10T05:00:00.000Z"],
    ["2024-03-10T05:00:00.000Z", "2024-03-11T04:00:00.000Z"],
  ]);
});

Deno.test("@once runs exactly once at the start date", () => {
  const start = d("2024-05-05T12:34:56Z");
  const t = tt({ schedule: "@once", startDate: start });
  assert.equal(t.kind, "once");
  assert.equal(t.description, "@once");
  for (const catchup of [true, false]) {
    const info = t.next(null, { catchup, now: d("2030-01-01T00:00:00Z") })!;
    assert.deepEqual(spans([info]), [[iso(start), iso(start)]]);
    assert.equal(t.next(info.dataInterval, { catchup, now: d("2030-01-01T00:00:00Z") }), null);
  }
  // Before the start date the run exists but is not due (runAfter in the future).
  assert.equal(iso(t.next(null, { catchup: true, now: d("2024-01-01") })!.runAfter), iso(start));
  assert.equal(t.between(d("2024-01-01"), d("2024-12-31")).length, 1);
  assert.equal(t.between(d("2024-06-01"), d("2024-12-31")).length, 0);
  const ended = tt({ schedule: "@once", startDate: start, endDate: d("2024-05-01") });
  assert.equal(ended.next(null, { catchup: true, now: d("2030-01-01") }), null);
  assert.deepEqual(t.inferManual(d("2024-07-01T00:00:00Z")), {
    start: d("2024-07-01T00:00:00Z"),
    end: d("2024-07-01T00:00:00Z"),
  });
});

Deno.test("@quarterly is 0 0 1 */3 *", () => {
  const t = tt({ schedule: "@quarterly" });
  assert.equal(t.description, "@quarterly (0 0 1 */3 *)");
  assert.deepEqual(spans(t.between(d("2024-01-01"), d("2024-12-31"))), [
    ["2024-01-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"],
    ["2024-04-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z"],
    ["2024-07-01T00:00:00.000Z", "2024-10-01T00:00:00.000Z"],
    ["2024-10-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"],
  ]);
});

Deno.test("null schedule: no automatic runs, no start date needed", () => {
  const t = tt({ schedule: null, startDate: null });
  assert.equal(t.kind, "none");
  assert.equal(t.next(null, { catchup: true, now: d("2030-01-01") }), null);
  assert.deepEqual(t.between(d("2024-01-01"), d("2030-01-01")), []);
  assert.deepEqual(t.inferManual(d("2024-03-03T03:03:03Z")), {
    start: d("2024-03-03T03:03:03Z"),
    end: d("2024-03-03T03:03:03Z"),
  });
  assert.equal(validateSchedule(null, "UTC"), null);
});

Deno.test("day-of-month and day-of-week combine with OR, like standard cron", () => {
  const t = tt({ schedule: "0 0 13 * 5" });
  assert.match(t.description, /OR/);
  // October 2024: Fridays are the 4th, 11th, 18th, 25th; the 13th is a Sunday.
  assert.deepEqual(t.between(d("2024-10-01"), d("2024-10-31")).map((r) => iso(r.logicalDate)), [
    "2024-10-04T00:00:00.000Z",
    "2024-10-11T00:00:00.000Z",
    "2024-10-13T00:00:00.000Z",
    "2024-10-18T00:00:00.000Z",
    "2024-10-25T00:00:00.000Z",
  ]);
});

Deno.test("invalid schedules fail with messages naming the problem", () => {
  const bad: [Partial<TimetableOptions>, RegExp][] = [
    [{ schedule: "61 * * * *" }, /^Invalid cron expression "61 \* \* \* \*": .*minute: 61/],
    [{ schedule: "a b c d e" }, /^Invalid cron expression "a b c d e": /],
    [{ schedule: "*/0 * * * *" }, /^Invalid cron expression "\*\/0 \* \* \* \*": .*stepping/],
    [{ schedule: "0 0 31 4 *" }, /^Invalid cron expression "0 0 31 4 \*": it never fires/],
    [{ schedule: "0 * * * * *" }, /expected 5 fields .* got 6; seconds and year fields/],
    [{ schedule: "0 0 0 * * * 2024" }, /got 7/],
    [{ schedule: "" }, /^Invalid cron expression "": expected 5 fields .* got 0/],
    [
      { schedule: "@fortnightly" },
      /^Unknown schedule preset "@fortnightly" \(expected one of @once,/,
    ],
    [{ timezone: "Mars/Base" }, /^Unknown timezone "Mars\/Base"$/],
    [{ schedule: null, timezone: "Mars/Base" }, /^Unknown timezone "Mars\/Base"$/],
    [{ startDate: null }, /^A cron schedule needs a start date$/],
    [{ schedule: "@once", startDate: null }, /^A @once schedule needs a start date$/],
    [{ startDate: d("nope") }, /^Invalid start date$/],
  ];
  for (const [opts, message] of bad) {
    assert.throws(() => tt(opts), (e) => e instanceof TimetableError && message.test(e.message));
  }
  assert.match(validateSchedule("0 * * * * *", "UTC")!, /got 6/);
  assert.match(validateSchedule("@daily", "Mars/Base")!, /Unknown timezone/);
  for (const ok of ["*/15 9-17 * * MON-FRI", "@hourly", "@weekly", "@once", "  0   0 * * 0 "]) {
    assert.equal(validateSchedule(ok, "Europe/Berlin"), null, ok);
  }
});

Deno.test("between lists a backfill window inclusively, clamped to start and end dates", () => {
  const t = tt({
    schedule: "0 6 * * *",
    startDate: d("2024-01-03T00:00:00Z"),
    endDate: d("2024-01-06T06:00:00Z"),
  });
  assert.deepEqual(spans(t.between(d("2024-01-01T00:00:00Z"), d("2024-01-31T00:00:00Z"))), [
    ["2024-01-03T06:00:00.000Z", "2024-01-04T06:00:00.000Z"],
    ["2024-01-04T06:00:00.000Z", "2024-01-05T06:00:00.000Z"],
    ["2024-01-05T06:00:00.000Z", "2024-01-06T06:00:00.000Z"],
    ["2024-01-06T06:00:00.000Z", "2024-01-07T06:00:00.000Z"],
  ]);
  // Both ends inclusive on logical dates.
  assert.deepEqual(
    t.between(d("2024-01-04T06:00:00Z"), d("2024-01-05T06:00:00Z")).map((r) => iso(r.logicalDate)),
    ["2024-01-04T06:00:00.000Z", "2024-01-05T06:00:00.000Z"],
  );
  assert.deepEqual(t.between(d("2024-01-05T00:00:00Z"), d("2024-01-04T00:00:00Z")), []);
});

Deno.test("between refuses more than 100000 runs", () => {
  const t = tt({ schedule: "* * * * *" });
  // 70 days of minutes = 100800 runs.
  assert.throws(
    () => t.between(d("2024-01-01T00:00:00Z"), d("2024-03-10T23:59:00Z")),
    (e) => e instanceof TimetableError && /More than 100000 runs/.test(e.message),
  );
});

Deno.test("inferManual gives the last complete interval (Airflow's infer_manual_data_interval)", () => {
  const t = tt({ schedule: "@daily" });
  const expected = { start: d("2024-01-24T00:00:00Z"), end: d("2024-01-25T00:00:00Z") };
  assert.deepEqual(t.inferManual(d("2024-01-25T01:00:00Z")), expected);
  assert.deepEqual(t.inferManual(d("2024-01-25T00:00:00Z")), expected);
  assert.deepEqual(t.inferManual(d("2024-01-25T23:59:59.999Z")), expected);
});

// Gust follows croner across DST, which matches Airflow except for a fixed time inside the
// spring-forward gap (Airflow, via pendulum, would move 02:30 to 03:30; Gust fires at 03:00):
// - a fixed time (single minute and hour) in the gap fires at the first instant after the gap;
// - a fixed time that occurs twice on fall-back fires once, at the first (summer-time) occurrence;
// - interval schedules (`30 * * * *`) skip the missing hour and fire on both repeated hours.
// Intervals stay contiguous either way, so a run's interval may be 23 or 25 hours long.
Deno.test("DST in Europe/Berlin", () => {
  const berlin = (schedule: string, from: string, to: string) =>
    spans(
      tt({ schedule, timezone: "Europe/Berlin", startDate: d("2024-01-01") }).between(
        d(from),
        d(to),
      ),
    );
  // 2024-03-31 02:00 CET -> 03:00 CEST: 02:30 does not exist.
  assert.deepEqual(berlin("30 2 * * *", "2024-03-30T00:00:00Z", "2024-03-31T12:00:00Z"), [
    ["2024-03-30T01:30:00.000Z", "2024-03-31T01:00:00.000Z"], // 02:30 CET -> 03:00 CEST
    ["2024-03-31T01:00:00.000Z", "2024-04-01T00:30:00.000Z"], // 03:00 CEST -> 02:30 CEST
  ]);
  // 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 happens twice, the daily job runs once.
  assert.deepEqual(berlin("30 2 * * *", "2024-10-26T12:00:00Z", "2024-10-27T12:00:00Z"), [
    ["2024-10-27T00:30:00.000Z", "2024-10-28T01:30:00.000Z"], // 25 hours
  ]);
  assert.deepEqual(
    berlin("30 * * * *", "2024-10-26T23:00:00Z", "2024-10-27T02:00:00Z").map(([s]) => s),
    ["2024-10-26T23:30:00.000Z", "2024-10-27T00:30:00.000Z", "2024-10-27T01:30:00.000Z"],
  );
  assert.deepEqual(
    berlin("30 * * * *", "2024-03-31T00:00:00Z", "2024-03-31T02:00:00Z").map(([s]) => s),
    ["2024-03-31T00:30:00.000Z", "2024-03-31T01:30:00.000Z"], // 01:30 CET, then 03:30 CEST
  );
  // The scheduler's path (next with catchup) agrees with between across the gap.
  const t = tt({ schedule: "30 2 * * *", timezone: "Europe/Berlin", startDate: d("2024-03-30") });
  assert.deepEqual(spans(drain(t, true, d("2024-04-01T12:00:00Z"))), [
    ["2024-03-30T01:30:00.000Z", "2024-03-31T01:00:00.000Z"],
    ["2024-03-31T01:00:00.000Z", "2024-04-01T00:30:00.000Z"],
  ]);
});

Deno.test("UTC, computed as a fixed offset, fires as a zone at UTC+0 all year does", () => {
  // Atlantic/Reykjavik has no daylight saving time: croner converts it through Intl, UTC not.
  for (const schedule of ["* * * * *", "*/7 3-5 * * 1,3", "0 0 13 * 5", "@monthly", "@quarterly"]) {
    const utc = tt({ schedule, timezone: "UTC" });
    const zone = tt({ schedule, timezone: "Atlantic/Reykjavik" });
    const from = d("2024-02-27T00:00:00Z");
    const to = d("2024-03-02T00:00:00Z");
    assert.deepEqual(spans(utc.between(from, to)), spans(zone.between(from, to)), schedule);
    let last = null;
    for (const now of ["2024-03-01T10:00:00Z", "2024-03-01T10:00:30Z", "2024-05-31T23:59:59Z"]) {
      const options = { catchup: false, now: d(now) };
      assert.deepEqual(utc.next(last, options), zone.next(last, options), `${schedule} at ${now}`);
      last = utc.next(last, options)?.dataInterval ?? null;
    }
  }
});
