/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/** The login form: a token in, an HttpOnly cookie out (POST /login in ../dashboard.tsx). */
import { Layout } from "./layout.tsx";

export function LoginPage(p: { error?: string }) {
  return (
    <Layout title="Log in">
      <section class="card" style="max-width:28em;margin:2em auto">
        <h1>Log in</h1>
        <p class="muted">
          Paste a token made with <code>qdeploy serve token add NAME --role read|deploy</code>.
        </p>
        {p.error && (
          <div class="msg error" id="login-error">
            {p.error}
          </div>
        )}
        <form method="post" action="/login">
          <p>
            <input type="password" name="token" id="token" autocomplete="current-password" placeholder="qdp_..." required />
          </p>
          <button type="submit" id="login">
            Log in
          </button>
        </form>
      </section>
    </Layout>
  );
}
