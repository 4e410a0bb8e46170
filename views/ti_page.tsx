/**
 * A task instance: its state and facts, why it is not running yet, its tries, its result, and
 * the log of one try. Two fragments update it live: `TiSummary` polls while the instance is
 * unfinished (and answers its actions), and `LogTail` fetches the lines written since the last
 * one it saw, once a second, until the try ends.
 */
import type { ComponentChildren } from "preact";
import type { TiDetail, TryRow } from "../db/ui_task_instances.ts";
import type { SerializedTask } from "../sdk/serialize.ts";
import { isFinished } from "../scheduler/states.ts";
import { DagLayout, type DagPageBase } from "./dag_header.tsx";
import { elapsed, formatDuration, formatTime, urls, withTry } from "./format.ts";
import { Facts, StateBadge } from "./layout.tsx";
import { LogPanel, type LogPanelProps } from "./task_log.tsx";
import { useCan } from "./viewer.ts";

/** The largest result shown in full; a longer one is cut (results may be up to 1 MiB). */
const RESULT_SHOWN = 100_000;

export interface TiSummaryProps {
  ti: TiDetail;
  task: SerializedTask | null;
  tries: TryRow[];
  result: string | null;
  waiting: string[];
  selectedTry: number;
  now: Date;
  notice?: string;
}

export interface TiPageProps extends DagPageBase {
  summary: TiSummaryProps;
  log: LogPanelProps;
}

export function tiAddress(ti: { dagId: string; runId: string; taskId: string; mapIndex: number }) {
  return urls.ti(ti.dagId, ti.runId, ti.taskId, ti.mapIndex);
}

export function TiPage(props: TiPageProps) {
  const ti = props.summary.ti;
  return (
    <DagLayout {...props} tab="task" title={`${ti.taskId} · ${ti.runId} · ${ti.dagId}`}>
      <p class="muted break">
        Run{" "}
        <a id="run-link" href={urls.run(ti.dagId, ti.runId)}>
          {ti.runId}
        </a>
      </p>
      <TiSummary {...props.summary} />
      <LogPanel {...props.log} />
    </DagLayout>
  );
}

export function TiSummary(props: TiSummaryProps) {
  const { ti, task } = props;
  const self = withTry(tiAddress(ti), props.selectedTry);
  const live = !isFinished(ti.state);
  return (
    <section
      id="ti-summary"
      hx-get={live ? self : undefined}
      hx-trigger={live ? "every 2s" : undefined}
      hx-swap={live ? "outerHTML" : undefined}
      data-state={ti.state ?? "none"}
      data-try={ti.tryNumber}
    >
      <h2 class="break">
        <span id="task-id">{ti.taskId}</span>
        {ti.mapIndex >= 0 ? ` [${ti.mapIndex}]` : ""} <StateBadge state={ti.state} />
      </h2>
      {props.notice && <p class="notice ok" role="status">{props.notice}</p>}
      {props.waiting.length > 0 && (
        <div class="notice" id="waiting">
          <strong>Why it is not running yet</strong>
          <ul>{props.waiting.map((w) => <li key={w}>{w}</li>)}</ul>
          {/* A missing or full pool is fixed on the Pools page (by an Op). */}
          {props.waiting.some((w) => w.startsWith('Pool "')) && (
            <a href="/pools" id="pools-link">See the pools</a>
          )}
        </div>
      )}
      <Facts
        items={[
          ["Try", `${ti.tryNumber} of ${ti.maxTries + 1}`],
          ["Start", formatTime(ti.startDate)],
          ["End", formatTime(ti.endDate)],
          [
            "Duration",
            formatDuration(
              ti.durationMs ??
                (ti.state === "running" ? elapsed(ti.startDate, null, props.now) : null),
            ),
          ],
          ["Pool", `${ti.pool} (${ti.poolSlots} slot${ti.poolSlots === 1 ? "" : "s"})`],
          ["Queue", ti.queue],
          ["Weight", String(ti.priorityWeight)],
          ["Host", ti.hostname],
          ["Trigger rule", task?.triggerRule ?? null],
          ["Upstream", task ? task.upstream.join(", ") || "none" : null],
        ]}
      />
      {task?.doc && <pre class="block doc">{task.doc}</pre>}
      <TiActions ti={ti} />
      <h2>Tries</h2>
      <Tries {...props} />
      <h2>Result</h2>
      {props.result === null ? <p class="muted">No result.</p> : (
        <pre class="block" id="result">
            {props.result.length > RESULT_SHOWN
              ? `${props.result.slice(0, RESULT_SHOWN)}\n… (${props.result.length} characters in all)`
              : prettyJson(props.result)}
        </pre>
      )}
    </section>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function TiActions(props: { ti: TiDetail }) {
  const { ti } = props;
  const [clear, mark] = [useCan("clear"), useCan("mark")];
  if (!clear && !mark) return null;
  const url = (action: string) => {
    const base = urls.tiAction(ti.dagId, ti.runId, ti.taskId, action);
    return ti.mapIndex >= 0 ? `${base}?map=${ti.mapIndex}` : base;
  };
  const form = (action: string, children: ComponentChildren, confirm?: string) => (
    <form
      class="inline"
      method="post"
      action={url(action)}
      hx-post={url(action)}
      hx-target="#ti-summary"
      hx-swap="outerHTML"
      hx-confirm={confirm}
    >
      {children}
    </form>
  );
  return (
    <div class="actions" id="ti-actions">
      {clear && form(
        "clear",
        <>
          <button type="submit" id="clear-task">Clear</button>{" "}
          <label class="small">
            <input type="checkbox" name="downstream" value="true" checked /> with downstream
          </label>
        </>,
      )}
      {mark && form(
        "mark",
        <>
          <input type="hidden" name="state" value="success" />
          <button type="submit">Mark success</button>
        </>,
        "Mark this task success?",
      )}
      {mark && form(
        "mark",
        <>
          <input type="hidden" name="state" value="failed" />
          <button type="submit" class="danger">Mark failed</button>
        </>,
        "Mark this task failed?",
      )}
    </div>
  );
}

function Tries(props: TiSummaryProps) {
  const base = tiAddress(props.ti);
  if (props.tries.length === 0) return <p class="muted">No try has started yet.</p>;
  return (
    <div class="scroll">
      <table id="tries">
        <thead>
          <tr>
            <th>Try</th>
            <th>State</th>
            <th class="hide-narrow">Start</th>
            <th>Duration</th>
            <th class="hide-narrow">Worker</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {props.tries.map((t) => (
            <tr data-try={t.tryNumber} data-state={t.state}>
              <td>
                <a
                  href={`${withTry(base, t.tryNumber)}#log`}
                  aria-current={t.tryNumber === props.selectedTry ? "true" : undefined}
                >
                  {t.tryNumber === props.selectedTry ? <b>{`${t.tryNumber}`}</b> : `${t.tryNumber}`}
                </a>
              </td>
              <td>
                <StateBadge state={t.state} />
              </td>
              <td class="hide-narrow nowrap">{formatTime(t.startDate)}</td>
              <td class="nowrap">{formatDuration(elapsed(t.startDate, t.endDate, props.now))}</td>
              <td class="hide-narrow break small">{t.worker ?? t.hostname ?? ""}</td>
              <td class="break">
                {t.error && (
                  <details>
                    <summary>{`${t.error.name}: ${t.error.message.split("\n")[0]}`}</summary>
                    <pre class="block">{t.error.stack ?? t.error.message}</pre>
                  </details>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A mapped task in a run: its instances, each linking to its own page. */
export function MappedPage(props: DagPageBase & { instances: TiDetail[] }) {
  const first = props.instances[0];
  return (
    <DagLayout {...props} tab="task" title={`${first.taskId} · ${first.runId} · ${first.dagId}`}>
      <p class="muted break">
        Run <a href={urls.run(first.dagId, first.runId)}>{first.runId}</a>
      </p>
      <h2 class="break">
        <span id="task-id">{first.taskId}</span>: {props.instances.length} mapped instances
      </h2>
      <div class="scroll">
        <table id="mapped">
          <thead>
            <tr>
              <th>Map index</th>
              <th>State</th>
              <th>Try</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {props.instances.map((ti) => (
              <tr data-map-index={ti.mapIndex}>
                <td>
                  <a href={tiAddress(ti)}>{ti.mapIndex}</a>
                </td>
                <td>
                  <StateBadge state={ti.state} />
                </td>
                <td>{ti.tryNumber}</td>
                <td>{formatDuration(ti.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </DagLayout>
  );
}
