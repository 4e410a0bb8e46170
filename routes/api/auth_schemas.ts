/**
 * Schemas of `POST /auth/token` (Airflow's LoginBody and LoginResponse), of the audit log as
 * Airflow's EventLog, and of Gust's own users and API tokens endpoints. Registered with the
 * others, so `/api/v2/openapi.json` describes them too.
 */
import { z } from "zod";
import { ROLES } from "../../auth/roles.ts";
import { request, response } from "./schemas.ts";

const dateTime = z.iso.datetime({ offset: true });
const when = dateTime.nullable();

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 256;

export const Username = z.string().regex(
  USERNAME_PATTERN,
  "A username is 1 to 64 letters, digits and . _ @ -, starting with a letter or digit",
);
export const Password = z.string()
  .min(MIN_PASSWORD_LENGTH, `A password has at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `A password has at most ${MAX_PASSWORD_LENGTH} characters`);
export const RoleName = z.enum(ROLES, "A role is one of Viewer, User, Op or Admin");
/** Shown in lists and recorded in the audit log: any text but control characters. */
export const TokenName = z.string().trim()
  .min(1, "A token needs a name")
  .max(100, "A token name has at most 100 characters")
  // deno-lint-ignore no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, "A token name cannot hold control characters");

export const LoginBody = request(
  "LoginBody",
  z.strictObject({ username: z.string(), password: z.string() }),
);

export const LoginResponse = response(
  "LoginResponse",
  z.object({ access_token: z.string() }),
);

export const EventLogResponse = response(
  "EventLogResponse",
  z.object({
    event_log_id: z.number().int(),
    when: dateTime,
    dag_id: z.string().nullable(),
    task_id: z.string().nullable(),
    run_id: z.string().nullable(),
    map_index: z.number().int().nullable(),
    try_number: z.number().int().nullable(),
    event: z.string(),
    logical_date: when,
    owner: z.string().nullable(),
    extra: z.string().nullable(),
    dag_display_name: z.string().nullable(),
  }),
  "`owner` is a username, an API token's name, `webhook` or `cli`; `extra` is JSON text with " +
    "the client address, user agent and details of the change.",
);

export const EventLogCollectionResponse = response(
  "EventLogCollectionResponse",
  z.object({ event_logs: z.array(EventLogResponse), total_entries: z.number().int() }),
);

export const UserResponse = response(
  "UserResponse",
  z.object({
    username: z.string(),
    role: RoleName,
    is_active: z.boolean(),
    created_at: dateTime,
    last_login_at: when,
    password: z.string().optional().describe("A generated password, in this answer only"),
  }),
);

export const UserCollectionResponse = response(
  "UserCollectionResponse",
  z.object({ users: z.array(UserResponse), total_entries: z.number().int() }),
);

export const UserPostBody = request(
  "UserPostBody",
  z.strictObject({ username: Username, role: RoleName, password: Password.optional() }),
);

export const UserPatchBody = request(
  "UserPatchBody",
  z.strictObject({
    role: RoleName.optional(),
    password: Password.optional(),
    reset_password: z.boolean().optional(),
    is_active: z.boolean().optional(),
  }),
);

export const ApiTokenResponse = response(
  "ApiTokenResponse",
  z.object({
    token_id: z.number().int(),
    name: z.string(),
    role: RoleName,
    prefix: z.string(),
    created_by: z.string().nullable(),
    created_at: dateTime,
    expires_at: when,
    last_used_at: when,
    revoked_at: when,
    token: z.string().optional().describe("The token itself, in the creating answer only"),
  }),
);

export const ApiTokenCollectionResponse = response(
  "ApiTokenCollectionResponse",
  z.object({ tokens: z.array(ApiTokenResponse), total_entries: z.number().int() }),
);

export const ApiTokenPostBody = request(
  "ApiTokenPostBody",
  z.strictObject({
    name: TokenName,
    role: RoleName,
    expires_in_days: z.number().int().min(1).max(3650).nullable().optional(),
  }),
);
