/**
 * The paused switch: a form that posts the opposite state. With htmx the answer is this same
 * component, swapped in place; without it the form posts and the server redirects back. A
 * viewer whose role may not pause sees the state only.
 */
import { urls } from "./format.ts";
import { useCan } from "./viewer.ts";

export function PauseToggle(props: { dagId: string; isPaused: boolean; back?: string }) {
  const url = urls.pause(props.dagId);
  if (!useCan("pause")) {
    return (
      <span
        class="switch pause-state"
        role="img"
        data-active={props.isPaused ? "false" : "true"}
        aria-label={`${props.dagId} ${props.isPaused ? "paused" : "active"}`}
        data-dag-id={props.dagId}
      >
        {props.isPaused ? "Paused" : "Active"}
      </span>
    );
  }
  return (
    <form
      class="inline pause-toggle"
      method="post"
      action={url}
      hx-post={url}
      hx-swap="outerHTML"
      data-dag-id={props.dagId}
    >
      <input type="hidden" name="paused" value={props.isPaused ? "false" : "true"} />
      {props.back ? <input type="hidden" name="back" value={props.back} /> : null}
      <button
        type="submit"
        class="switch"
        role="switch"
        aria-checked={props.isPaused ? "false" : "true"}
        aria-label={`${props.dagId} active`}
        title={props.isPaused ? "Paused: click to unpause" : "Active: click to pause"}
      >
        {props.isPaused ? "Paused" : "Active"}
      </button>
    </form>
  );
}
