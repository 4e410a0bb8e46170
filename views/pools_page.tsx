/**
 * The Pools page: each pool's slots and what holds them (running, queued) or waits for them
 * (scheduled), for anyone who may read; forms to resize, describe, delete and create pools for
 * those who may manage them (Op and Admin). Names are text rendered by Preact, so escaped.
 */
import { openSlots, type PoolRow, slotsLabel } from "../db/pools.ts";
import { FormField, Layout } from "./layout.tsx";
import { useCan } from "./viewer.ts";

const poolUrl = (name: string, action = "") =>
  `/pools/${encodeURIComponent(name)}${action ? `/${action}` : ""}`;

export function PoolsPage(props: { pools: PoolRow[]; notice?: string; error?: string }) {
  const manage = useCan("pools");
  return (
    <Layout title="Pools">
      <h1>Pools</h1>
      <p class="muted">
        A pool's slots cap how many of the task instances that name it are queued or running at
        once, across every worker. Tasks name their pool in code (<code>pool</code>,{" "}
        <code>poolSlots</code>); a task whose pool does not exist fails when it is scheduled.
      </p>
      {props.notice && <p class="notice ok" role="status" id="notice">{props.notice}</p>}
      {props.error && <p class="notice error" role="alert" id="error">{props.error}</p>}
      <div class="scroll">
        <table id="pools">
          <thead>
            <tr>
              <th>Pool</th>
              <th>Slots</th>
              <th>Running</th>
              <th>Queued</th>
              <th>Scheduled</th>
              <th>Open</th>
              <th class="hide-narrow">Description</th>
              {manage && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {props.pools.map((p) => (
              <tr data-pool={p.name}>
                <td class="break pool-name">{p.name}</td>
                <td class="slots">
                  {manage
                    ? (
                      <form class="inline" method="post" action={poolUrl(p.name)}>
                        <input
                          name="slots"
                          value={slotsLabel(p.slots)}
                          size={9}
                          aria-label={`Slots of ${p.name}`}
                          required
                        />{" "}
                        <button type="submit">Set</button>
                      </form>
                    )
                    : slotsLabel(p.slots)}
                </td>
                <td class="running">{p.runningSlots}</td>
                <td class="queued">{p.queuedSlots}</td>
                <td class="scheduled">{p.scheduledSlots}</td>
                <td class="open">{slotsLabel(openSlots(p))}</td>
                <td class="hide-narrow break">{p.description}</td>
                {manage && (
                  <td>
                    {p.name !== "default_pool" && (
                      <form class="inline" method="post" action={poolUrl(p.name, "delete")}>
                        <button type="submit" class="danger">Delete</button>
                      </form>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {manage && (
        <>
          <h2>New pool</h2>
          <form method="post" action="/pools" id="new-pool">
            <FormField id="new-pool-name" label="Name" help="Letters, digits, - . and _">
              <input id="new-pool-name" name="name" required autocomplete="off" />
            </FormField>
            <FormField id="new-pool-slots" label="Slots" help="A number, or unlimited">
              <input id="new-pool-slots" name="slots" required autocomplete="off" />
            </FormField>
            <FormField id="new-pool-description" label="Description">
              <input id="new-pool-description" name="description" autocomplete="off" />
            </FormField>
            <button type="submit" class="primary">Create pool</button>
          </form>
        </>
      )}
    </Layout>
  );
}
