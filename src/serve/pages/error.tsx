/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/** An error as a page: the same message (and hint) the API's JSON carries. */
import type { ErrorBody } from "../../errors.ts";
import { ErrorMessage, Layout, type Viewer } from "./layout.tsx";

export function ErrorPage(p: { status: number; error: ErrorBody; viewer?: Viewer | null }) {
  return (
    <Layout title={`error ${p.status}`} viewer={p.viewer ?? null}>
      <h1>Error {p.status}</h1>
      <ErrorMessage error={p.error} id="error" />
      <p>
        <a href="/">Back to the environments</a>
      </p>
    </Layout>
  );
}
