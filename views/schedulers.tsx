/** Which schedulers run, when each last heartbeated, and which one leads. */
import type { SchedulerStatus } from "../db/schedulers.ts";
import { formatTime } from "./format.ts";

export function Schedulers(props: { schedulers: SchedulerStatus[] }) {
  return (
    <section id="schedulers" class="muted">
      <h2>Schedulers</h2>
      {props.schedulers.length === 0
        ? <p>No scheduler has started yet: start one with the scheduler role.</p>
        : (
          <ul>
            {props.schedulers.map((s) => (
              <li key={s.id} data-scheduler={s.id}>
                <code>{s.id}</code>{" "}
                {s.isLeader ? <strong>leader</strong> : s.alive ? "standby" : "gone"}
                {" · last heartbeat "}
                {formatTime(s.lastHeartbeat)}
              </li>
            ))}
          </ul>
        )}
    </section>
  );
}
