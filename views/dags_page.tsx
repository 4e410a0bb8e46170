/**
 * The DAG list: each active DAG with its schedule, tags, paused switch, recent runs and next
 * run, filtered by a search and a tag, one page at a time; import errors in a banner first.
 * `DagList` is also the htmx fragment the search form swaps in.
 */
import type { ImportError } from "../db/dags.ts";
import type { DagListItem } from "../db/ui_dags.ts";
import { formatTime, urls } from "./format.ts";
import { Layout, Pager, StateDot } from "./layout.tsx";
import { PauseToggle } from "./pause_toggle.tsx";
import { Schedulers } from "./schedulers.tsx";
import type { SchedulerStatus } from "../db/schedulers.ts";

export const DAGS_PER_PAGE = 50;

export interface DagListProps {
  dags: DagListItem[];
  total: number;
  page: number;
  q: string;
  tag: string | null;
}

export interface DagsPageProps extends DagListProps {
  importErrors: ImportError[];
  tags: string[];
  schedulers: SchedulerStatus[];
}

export function DagsPage(props: DagsPageProps) {
  return (
    <Layout title="DAGs">
      <h1>DAGs</h1>
      <ImportErrors errors={props.importErrors} />
      <form
        class="toolbar"
        method="get"
        action="/"
        role="search"
        hx-get="/"
        hx-target="#dag-list"
        hx-swap="outerHTML"
        hx-push-url="true"
        hx-trigger="submit, input changed delay:300ms from:input[name=q], change from:select"
      >
        <input
          type="search"
          name="q"
          value={props.q}
          placeholder="Search DAGs"
          aria-label="Search DAGs"
        />
        <select name="tag" aria-label="Tag">
          <option value="">All tags</option>
          {props.tags.map((t) => <option key={t} value={t} selected={t === props.tag}>{t}</option>)}
        </select>
        <button type="submit">Filter</button>
      </form>
      <DagList {...props} />
      <Schedulers schedulers={props.schedulers} />
    </Layout>
  );
}

function ImportErrors(props: { errors: ImportError[] }) {
  if (props.errors.length === 0) return null;
  return (
    <section class="banner" id="import-errors" role="alert">
      <strong>
        {props.errors.length === 1
          ? "1 DAG file failed to import"
          : `${props.errors.length} DAG files failed to import`}
      </strong>
      {props.errors.map((e) => (
        <details class="import-error">
          <summary>
            <b class="filename">{e.filename}</b>:{" "}
            <span class="message">
              {e.message.split("\n")[0]}
            </span>
          </summary>
          <pre>{e.stack ?? e.message}</pre>
        </details>
      ))}
    </section>
  );
}

export function DagList(props: DagListProps) {
  const pages = Math.max(1, Math.ceil(props.total / DAGS_PER_PAGE));
  const at = (page: number) => urls.dags({ q: props.q, tag: props.tag, page });
  // Nothing stored yet (a new home whose folder is still being read, or an empty folder): the
  // list asks again every few seconds, and stops once DAGs arrive.
  const waiting = props.total === 0 && !props.q && !props.tag;
  const poll = waiting ? { "hx-get": "/", "hx-trigger": "every 3s", "hx-swap": "outerHTML" } : {};
  return (
    <section id="dag-list" {...poll}>
      <div class="scroll">
        <table id="dags">
          <thead>
            <tr>
              <th>DAG</th>
              <th>Schedule</th>
              <th class="hide-narrow">Next run</th>
              <th>Recent runs</th>
              <th>Active</th>
            </tr>
          </thead>
          <tbody>{props.dags.map((dag) => <DagRow key={dag.dagId} dag={dag} />)}</tbody>
        </table>
      </div>
      {props.dags.length === 0 && (
        <p class="muted">
          {props.q || props.tag
            ? "No DAG matches."
            : "No DAGs yet: a file added to the DAG folder shows here once the scheduler has read it."}
        </p>
      )}
      <Pager
        prev={props.page > 1 ? at(props.page - 1) : null}
        next={props.page < pages ? at(props.page + 1) : null}
        label={`${props.total} DAG${props.total === 1 ? "" : "s"} · page ${props.page} of ${pages}`}
      />
    </section>
  );
}

export function DagRow(props: { dag: DagListItem }) {
  const dag = props.dag;
  return (
    <tr data-dag-id={dag.dagId}>
      <td>
        <a class="dag-link break" href={urls.dag(dag.dagId)}>
          <strong>{dag.dagId}</strong>
        </a>
        {dag.description && <div class="muted description">{dag.description}</div>}
        <div>
          {dag.tags.map((t) => <a key={t} class="tag" href={urls.dags({ tag: t })}>{t}</a>)}
        </div>
      </td>
      <td>
        <code>{dag.schedule ?? "None"}</code>
      </td>
      <td class="hide-narrow nowrap">{formatTime(dag.nextRunAfter)}</td>
      <td class="nowrap">
        {dag.recentRuns.map((r) => (
          <StateDot state={r.state} href={urls.run(dag.dagId, r.runId)} label={r.runId} />
        ))}
      </td>
      <td>
        <PauseToggle dagId={dag.dagId} isPaused={dag.isPaused} />
      </td>
    </tr>
  );
}
