/** The audit log for Admins: newest first, filtered by event, owner or DAG, a page at a time. */
import type { AuditRow } from "../db/audit_log.ts";
import { formatTime, urls } from "./format.ts";
import { Layout, Pager } from "./layout.tsx";

export const AUDIT_PER_PAGE = 100;

export interface AuditFilters {
  event: string;
  owner: string;
  dagId: string;
}

const ACTOR_LABELS: Record<string, string> = {
  api_token: "API token",
  webhook: "webhook",
  cli: "local CLI",
  anonymous: "not signed in",
};

function auditUrl(f: AuditFilters, page: number): string {
  const q = new URLSearchParams();
  if (f.event) q.set("event", f.event);
  if (f.owner) q.set("owner", f.owner);
  if (f.dagId) q.set("dag_id", f.dagId);
  if (page > 1) q.set("page", String(page));
  const text = q.toString();
  return text ? `/admin/audit?${text}` : "/admin/audit";
}

function Target(props: { row: AuditRow }) {
  const r = props.row;
  if (!r.dagId) return null;
  const task = r.taskId
    ? `${r.taskId}${r.mapIndex !== null && r.mapIndex >= 0 ? `[${r.mapIndex}]` : ""}`
    : null;
  return (
    <>
      <a href={urls.dag(r.dagId)}>{r.dagId}</a>
      {r.runId && (
        <>
          {" / "}
          <a href={urls.run(r.dagId, r.runId)}>{r.runId}</a>
        </>
      )}
      {task && r.runId && (
        <>
          {" / "}
          <a href={urls.ti(r.dagId, r.runId, r.taskId!, r.mapIndex ?? -1)}>{task}</a>
        </>
      )}
    </>
  );
}

/** What the row says beyond who and where: its extra, without the address and user agent. */
function details(extra: Record<string, unknown> | null): string {
  const { client_addr: _a, user_agent: _u, ...rest } = extra ?? {};
  return Object.keys(rest).length ? JSON.stringify(rest) : "";
}

export function AuditPage(
  props: { rows: AuditRow[]; total: number; page: number; filters: AuditFilters },
) {
  const f = props.filters;
  const pages = Math.max(1, Math.ceil(props.total / AUDIT_PER_PAGE));
  return (
    <Layout title="Audit log">
      <h1>Audit log</h1>
      <form class="toolbar" method="get" action="/admin/audit" role="search">
        <input name="event" value={f.event} placeholder="Event" aria-label="Event" />
        <input name="owner" value={f.owner} placeholder="Who" aria-label="Who" />
        <input name="dag_id" value={f.dagId} placeholder="DAG id" aria-label="DAG id" />
        <button type="submit">Filter</button>
      </form>
      <div class="scroll">
        <table id="audit">
          <thead>
            <tr>
              <th>When</th>
              <th>Event</th>
              <th>Who</th>
              <th>DAG / run / task</th>
              <th class="hide-narrow">From</th>
              <th class="hide-narrow">Details</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr data-event={r.event} data-id={String(r.id)}>
                <td class="nowrap">{formatTime(r.when)}</td>
                <td class="event">{r.event}</td>
                <td class="break owner">
                  {r.owner ?? ""}
                  {ACTOR_LABELS[r.actor] && <span class="muted">({ACTOR_LABELS[r.actor]})</span>}
                </td>
                <td class="break">
                  <Target row={r} />
                </td>
                <td
                  class="hide-narrow nowrap"
                  title={String((r.extra as Record<string, unknown> | null)?.user_agent ?? "")}
                >
                  {r.clientAddr ?? ""}
                </td>
                <td class="hide-narrow break small">{details(r.extra)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.rows.length === 0 && <p class="muted">Nothing recorded matches.</p>}
      <Pager
        prev={props.page > 1 ? auditUrl(f, props.page - 1) : null}
        next={props.page < pages ? auditUrl(f, props.page + 1) : null}
        label={`${props.total} entr${
          props.total === 1 ? "y" : "ies"
        } · page ${props.page} of ${pages}`}
      />
    </Layout>
  );
}
