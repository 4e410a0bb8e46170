/**
 * The trigger form, generated from the DAG's params schema: one field per param with its
 * default, and a JSON box for conf beyond the params. Posted with htmx, the answer is this same
 * form: with each problem under its field (status 422), or fresh with a link to the new run.
 */
import { type ParamField, paramFields } from "./param_fields.ts";
import { FIELD_PREFIX, fieldText } from "./param_fields.ts";
import { urls } from "./format.ts";

export interface TriggerFormProps {
  dagId: string;
  paramsSchema: Record<string, unknown> | null;
  isPaused: boolean;
  /** What was submitted, to show it again next to its errors. */
  values?: Record<string, string>;
  errors?: { fields: Record<string, string[]>; general: string[] };
  created?: { runId: string };
}

export function TriggerForm(props: TriggerFormProps) {
  const fields = paramFields(props.paramsSchema);
  const url = urls.trigger(props.dagId);
  const errors = props.errors ?? { fields: {}, general: [] };
  const confErrors = errors.fields.conf ?? [];
  return (
    <form
      id="trigger-form"
      method="post"
      action={url}
      hx-post={url}
      hx-swap="outerHTML"
      novalidate
    >
      {props.created && (
        <p class="notice ok" role="status">
          Run{" "}
          <a href={urls.run(props.dagId, props.created.runId)} class="created-run">
            {props.created.runId}
          </a>{" "}
          created.
        </p>
      )}
      {errors.general.length > 0 && (
        <div class="notice error" role="alert">
          {errors.general.map((e) => <div key={e} class="form-error">{e}</div>)}
        </div>
      )}
      {props.isPaused && (
        <p class="notice">
          The DAG is paused: a new run waits until it is unpaused.
        </p>
      )}
      {fields.map((f) => (
        <Field
          field={f}
          value={props.values?.[f.name]}
          errors={errors.fields[f.name] ?? []}
        />
      ))}
      <div class="field" aria-invalid={confErrors.length ? "true" : undefined}>
        <label for="trigger-conf">
          {fields.length
            ? "More conf (JSON object; its keys override the fields)"
            : "Conf (JSON object)"}
        </label>
        <textarea id="trigger-conf" name="conf" placeholder="{}" spellcheck={false}>
          {props.values?.conf ?? ""}
        </textarea>
        {confErrors.map((e) => <div key={e} class="error">{e}</div>)}
      </div>
      <div class="actions">
        <button type="submit" class="primary">Trigger</button>
        <span class="htmx-indicator muted">Triggering…</span>
      </div>
    </form>
  );
}

function Field(props: { field: ParamField; value: string | undefined; errors: string[] }) {
  const f = props.field;
  const id = `param-${f.name}`;
  const name = FIELD_PREFIX + f.name;
  const text = props.value ?? fieldText(f, f.default);
  const invalid = props.errors.length > 0;
  const help = f.description ?? (f.title && f.title !== f.name ? f.title : null);
  let input;
  switch (f.kind) {
    case "enum":
      input = (
        <select id={id} name={name} aria-invalid={invalid ? "true" : undefined}>
          {!f.required || f.default === undefined ? <option value="">(default)</option> : null}
          {f.options.map((o) => (
            <option value={String(o)} selected={String(o) === text}>{String(o)}</option>
          ))}
        </select>
      );
      break;
    case "boolean":
      input = (
        <input
          id={id}
          type="checkbox"
          name={name}
          value="true"
          checked={props.value !== undefined ? props.value === "true" : f.default === true}
        />
      );
      break;
    case "integer":
    case "number":
      input = (
        <input
          id={id}
          type="number"
          name={name}
          value={text}
          step={f.kind === "integer" ? "1" : "any"}
          min={f.min ?? undefined}
          max={f.max ?? undefined}
          aria-invalid={invalid ? "true" : undefined}
        />
      );
      break;
    case "string":
      input = (
        <input
          id={id}
          // Preact types each input type's attributes apart; these five share the ones used here.
          type={f.inputType as "text"}
          name={name}
          value={text}
          aria-invalid={invalid ? "true" : undefined}
        />
      );
      break;
    default:
      input = (
        <textarea
          id={id}
          name={name}
          spellcheck={false}
          aria-invalid={invalid ? "true" : undefined}
        >
          {text}
        </textarea>
      );
  }
  return (
    <div class="field" data-param={f.name} aria-invalid={invalid ? "true" : undefined}>
      <label for={id}>
        {f.name}
        {f.required ? <span class="muted">(required)</span> : null}
      </label>
      {input}
      {help && <div class="help">{help}</div>}
      {props.errors.map((e) => <div key={e} class="error">{e}</div>)}
    </div>
  );
}
