/**
 * An API client for tests that checks every answer against Airflow's published OpenAPI document
 * and against the one Gust publishes.
 */
import assert from "node:assert/strict";
import type { createApp } from "../routes/mod.ts";
import { check, type OpenApiDoc, responseSchema } from "./openapi_check.ts";

export const METHODS = ["GET", "POST", "PATCH", "DELETE"] as const;

/** Requests the API and checks the answer against both documents. */
export class Client {
  constructor(
    private readonly app: ReturnType<typeof createApp>,
    private readonly airflow: OpenApiDoc,
    private readonly gust: OpenApiDoc,
  ) {}

  async call(
    method: typeof METHODS[number],
    template: string,
    o: {
      params?: Record<string, string>;
      query?: string;
      body?: unknown;
      status?: number;
      headers?: Record<string, string>;
    } = {},
  ) {
    const path = template.replace(
      /\{(\w+)\}/g,
      (_, name) => encodeURIComponent(o.params?.[name] ?? ""),
    );
    const res = await this.app.request(`${path}${o.query ? `?${o.query}` : ""}`, {
      method,
      headers: { "content-type": "application/json", ...o.headers },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    });
    const text = await res.text();
    const status = o.status ?? 200;
    assert.equal(res.status, status, `${method} ${path}: ${text}`);
    if (status === 204) {
      assert.equal(text, "", `${method} ${path}: a 204 has no body`);
      return null;
    }
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const json = JSON.parse(text);
    this.conforms(this.gust, "Gust's", method, template, status, json, true);
    if (this.airflow.paths[template]) {
      this.conforms(this.airflow, "Airflow's", method, template, status, json, false);
    }
    return json;
  }

  private conforms(
    doc: OpenApiDoc,
    name: string,
    method: string,
    template: string,
    status: number,
    json: unknown,
    documented: boolean,
  ) {
    let schema;
    try {
      schema = responseSchema(doc, method, template, status);
    } catch (error) {
      // Airflow raises some statuses (400 for a bad order_by) without documenting them; Gust
      // documents every status it answers with.
      if (documented || status < 400) throw error;
      schema = {
        $ref: `#/components/schemas/${
          status === 422 ? "HTTPValidationError" : "HTTPExceptionResponse"
        }`,
      };
    }
    const errors = check(doc, schema, json);
    assert.deepEqual(errors, [], `${method} ${template} ${status} against ${name} document`);
  }
}
