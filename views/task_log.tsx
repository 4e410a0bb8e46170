/**
 * The log of one try: the lines so far and, while the try may still write, a tail that fetches
 * the lines after the last one shown, once a second, until the try ends.
 */
import type { LogLine } from "../db/logs.ts";
import { withTry } from "./format.ts";

export interface LogPanelProps {
  /** The task instance's address, for the tail's requests. */
  tiUrl: string;
  tryNumber: number;
  lines: LogLine[];
  live: boolean;
  /** Lines were cut at the page's limit. */
  truncated: boolean;
}

export function LogPanel(props: LogPanelProps) {
  return (
    <section id="log">
      <h2>Log of try {props.tryNumber}</h2>
      {props.truncated && <p class="muted">Showing the first {props.lines.length} lines.</p>}
      <div class="log" id="log-lines" role="log" aria-live="polite">
        <LogLines lines={props.lines} />
        {props.lines.length === 0 && !props.live && <div class="muted empty">No log lines.</div>}
        {props.live && (
          <LogTail
            tiUrl={props.tiUrl}
            tryNumber={props.tryNumber}
            after={props.lines.at(-1)?.id ?? 0}
            full={false}
          />
        )}
      </div>
    </section>
  );
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

export function LogLines(props: { lines: LogLine[] }) {
  return (
    <>
      {props.lines.map((l) => (
        <div class={`line ${LEVELS.has(l.level) ? l.level : "info"}`} data-id={l.id}>
          <span class="ts">{l.ts.toISOString().slice(11, 23)}</span>
          {l.line}
        </div>
      ))}
    </>
  );
}

/**
 * The end of a live log: it asks for the lines after `after` and is replaced by them and by a
 * new tail, or by nothing once the try has ended. A full chunk asks again at once.
 */
export function LogTail(props: { tiUrl: string; tryNumber: number; after: number; full: boolean }) {
  const base = props.tiUrl.replace(/(\?|$)/, "/log$1");
  const url = `${withTry(base, props.tryNumber)}&after=${props.after}`;
  return (
    <div
      class="tail"
      id="log-tail"
      hx-get={url}
      hx-trigger={props.full ? "load" : "every 1s"}
      hx-swap="outerHTML"
    >
      <span class="live">● following the log</span>
    </div>
  );
}
