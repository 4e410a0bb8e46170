/**
 * The login page, the page of a refused action, and the account page (change your password).
 * Plain forms: they work without JavaScript, and the answer is a whole page.
 */
import { FormField, Layout } from "./layout.tsx";
import { useViewer } from "./viewer.ts";

export function LoginPage(props: { next: string; username?: string; error?: string }) {
  return (
    <Layout title="Log in">
      <section class="login">
        <h1>Log in to Gust</h1>
        {props.error && <p class="notice error" role="alert" id="login-error">{props.error}</p>}
        <form method="post" action="/login" id="login-form">
          <input type="hidden" name="next" value={props.next} />
          <FormField id="username" label="Username">
            <input
              id="username"
              name="username"
              autocomplete="username"
              required
              autofocus
              value={props.username ?? ""}
            />
          </FormField>
          <FormField id="password" label="Password">
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="current-password"
              required
            />
          </FormField>
          <div class="actions">
            <button type="submit" class="primary">Log in</button>
          </div>
        </form>
      </section>
    </Layout>
  );
}

export function ForbiddenPage(props: { message: string }) {
  return (
    <Layout title="Forbidden">
      <h1>Forbidden</h1>
      <p id="forbidden">{props.message}</p>
      <p>
        <a href="/">All DAGs</a>
      </p>
    </Layout>
  );
}

export function AccountPage(props: { notice?: string; error?: string }) {
  const viewer = useViewer();
  return (
    <Layout title="Account">
      <h1>{viewer?.name}</h1>
      <p class="muted">Role: {viewer?.role}</p>
      <h2>Change your password</h2>
      {props.notice && <p class="notice ok" role="status">{props.notice}</p>}
      {props.error && <p class="notice error" role="alert">{props.error}</p>}
      <p class="muted">Every other session of yours ends, and your API JWTs stop working.</p>
      <form method="post" action="/account/password" id="password-form">
        <FormField id="current" label="Current password">
          <input
            id="current"
            name="current"
            type="password"
            autocomplete="current-password"
            required
          />
        </FormField>
        <FormField id="new" label="New password">
          <input id="new" name="new" type="password" autocomplete="new-password" required />
        </FormField>
        <FormField id="confirm" label="New password again">
          <input id="confirm" name="confirm" type="password" autocomplete="new-password" required />
        </FormField>
        <div class="actions">
          <button type="submit" class="primary">Change password</button>
        </div>
      </form>
    </Layout>
  );
}
