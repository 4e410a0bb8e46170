/**
 * Gust's OpenAPI document, served at `/api/v2/openapi.json`: the operations of `operations.ts`
 * and component schemas generated from the zod schemas in `schemas.ts`, so the document cannot
 * drift from what the code parses and answers.
 */
import { z } from "zod";
import { GUST_VERSION } from "./monitor.ts";
import { OPERATIONS, ref, type Schema } from "./operations.ts";
import { requests, responses } from "./schemas.ts";
import "./auth_schemas.ts"; // registers the auth and event log schemas with the others

function components(registry: typeof requests, io: "input" | "output"): Record<string, Schema> {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: "any",
  }) as { schemas: Record<string, Schema> };
  const clean = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(clean);
    if (value === null || typeof value !== "object") return value;
    const out: Schema = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === "$schema" || key === "$id") continue;
      // zod spells date-times out as a long pattern; the format says it.
      if (key === "pattern" && (value as Schema).format === "date-time") continue;
      out[key] = clean(v);
    }
    return out;
  };
  return clean(schemas) as Record<string, Schema>;
}

let cached: Schema | null = null;

/** Airflow's two schemes: a JWT from the token URL, or any bearer token (Gust's API tokens). */
const SECURITY = [{ OAuth2PasswordBearer: [] }, { HTTPBearer: [] }];
const SECURITY_SCHEMES = {
  OAuth2PasswordBearer: {
    type: "oauth2",
    description: "A JWT from `POST /auth/token`, valid for GUST_JWT_TTL (1 hour by default).",
    flows: { password: { scopes: {}, tokenUrl: "/auth/token" } },
  },
  HTTPBearer: {
    type: "http",
    scheme: "bearer",
    description: "A JWT, or an API token an Admin created (`gust_...`).",
  },
};

export function openApiDocument(): Schema {
  if (cached) return cached;
  const paths: Record<string, Record<string, Schema>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, Schema> = {};
    // Every operation but the public ones needs a bearer token, and a role that allows it.
    const guarded = op.access === "public" ? op.responses : {
      ...op.responses,
      401: "HTTPExceptionResponse",
      403: "HTTPExceptionResponse",
    };
    for (const [status, schema] of Object.entries(guarded)) {
      if (status === "204") {
        responses[status] = { description: "Successful Response" }; // no body
        continue;
      }
      responses[status] = {
        description: status.startsWith("2") ? "Successful Response" : "Error",
        content: {
          "application/json": { schema: typeof schema === "string" ? ref(schema) : schema },
        },
      };
    }
    paths[op.path] ??= {};
    paths[op.path][op.method] = {
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      operationId: op.operationId,
      ...(op.access === "public" ? {} : { security: SECURITY }),
      parameters: op.parameters ?? [],
      ...(op.body
        ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: ref(op.body) } },
          },
        }
        : {}),
      responses,
    };
  }
  cached = {
    openapi: "3.1.0",
    info: {
      title: "Gust API",
      version: GUST_VERSION,
      description: "The part of Apache Airflow's stable REST API (v2) that Gust implements, " +
        "with the same paths, parameters and JSON shapes, and Gust's webhooks.",
    },
    paths,
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas: {
        ...components(responses, "output"),
        ...components(requests, "input"),
        WebhookBody: {
          type: "object",
          description: "Any JSON object: the run's conf, checked against the DAG's params",
        },
      },
    },
  };
  return cached;
}
