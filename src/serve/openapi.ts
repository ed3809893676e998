/**
 * The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json. A plain object kept
 * beside the routes; src/serve/api.test.ts checks that the two list the same paths.
 */
import { FOLLOWS_PER_ENVIRONMENT, FOLLOWS_PER_TOKEN } from "./log-streams.ts";

const json = (schema: object) => ({ "application/json": { schema } });
const sse = (description: string) => ({ description, content: { "text/event-stream": { schema: { type: "string" } } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ok = (description: string, props: Record<string, object>) => ({
  description,
  content: json({ type: "object", required: ["ok", ...Object.keys(props)], properties: { ok: { const: true }, ...props } }),
});
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]));
const envParam = { name: "env", in: "path", required: true, schema: { type: "string" }, description: "an environment of deploy.toml" };
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" }, description: "a run id" };
const query = (name: string, type: string, description: string) => ({ name, in: "query", required: false, schema: { type }, description });

/** A POST that starts a Run: 202 with the record and a Location header. */
function startsRun(summary: string, fields: Record<string, string>, required: string[] = []) {
  const properties = Object.fromEntries(Object.entries(fields).map(([name, text]) => [name, { type: required.includes(name) ? "string" : ["string", "null"], minLength: 1, description: text }]));
  return {
    summary,
    security: [{ bearer: ["deploy"] }],
    parameters: [envParam],
    requestBody: {
      required: required.length > 0,
      content: json({ type: "object", additionalProperties: false, properties, ...(required.length && { required }) }),
    },
    responses: {
      "202": { ...ok("started: every host's deploy lock is held (restart: started)", { run: ref("RunRecord") }), headers: { Location: { schema: { type: "string" }, description: "/api/v1/runs/ID" } } },
      ...errors(400, 401, 403, 404, 409, 422, 502),
    },
  };
}

/** The document (a fresh object each call). */
export function openApiDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "qdeploy serve",
      version: "1",
      description: "The HTTP API of `qdeploy serve`: the same operations as the CLI. Every route needs `Authorization: Bearer qdp_...` (qdeploy serve token add NAME --role read|deploy); read tokens look, deploy tokens also push, roll back and restart.",
    },
    servers: [{ url: "/api/v1" }],
    security: [{ bearer: ["read"] }],
    paths: {
      "/openapi.json": { get: { summary: "this document", responses: { "200": { description: "OpenAPI 3.1", content: json({ type: "object" }) }, ...errors(401) } } },
      "/environments": {
        get: {
          summary: "the environments this server serves, their hosts, each host's processes, and the run going on",
          responses: { "200": ok("environments", { environments: { type: "array", items: ref("Environment") } }), ...errors(401) },
        },
      },
      "/environments/{env}/status": {
        get: {
          summary: "per host: live release, units, health, timers; drift between hosts; the add-ons (qdeploy status)",
          parameters: [envParam],
          responses: { "200": ok("status", { hosts: { type: "array", items: { type: "object" } }, drift: { type: ["object", "null"] }, addons: { type: "array", items: { type: "object" }, description: "each add-on: state, version, size, last backup, warning (qdeploy addons status)" } }), ...errors(401, 404, 422, 502) },
        },
      },
      "/environments/{env}/releases": {
        get: {
          summary: "releases merged across hosts: id, created, git commit, by, sha256, hosts, live, previous, activated (false: refused everywhere)",
          parameters: [envParam],
          responses: { "200": ok("releases, oldest first", { releases: { type: "array", items: { type: "object" } }, hosts: { type: "array", items: { type: "object" } } }), ...errors(401, 404, 422, 502) },
        },
      },
      "/environments/{env}/audit": {
        get: {
          summary: "the hosts' audit logs merged, newest first",
          parameters: [envParam, query("lines", "integer", "at most this many entries (default 100)")],
          responses: {
            "200": ok("entries", { entries: { type: "array", items: { type: "object", properties: { host: { type: "string" }, time: { type: "string" }, line: { type: "string" } } } } }),
            ...errors(400, 401, 404, 422, 502),
          },
        },
      },
      "/environments/{env}/push": { post: startsRun("build and deploy a git ref (default HEAD of [serve] remote) from a clean checkout", { ref: "a branch, tag or commit" }) },
      "/environments/{env}/rollback": { post: startsRun("back to the previous good release, or the one named", { release: "a release id" }) },
      "/environments/{env}/promote": {
        post: startsRun("another served environment's live release (or the one named) to this one, byte for byte, with this one's config; no build", { from: "the environment promoted from", release: "a release id of it" }, ["from"]),
      },
      "/environments/{env}/restart": { post: startsRun("zero-downtime restart of one process, or all", { process: "a process name" }) },
      "/environments/{env}/logs": {
        get: {
          summary: "the journal of the app's units as Server-Sent Events: `event: line` with data {host, line}; then `event: end`, unless follow",
          parameters: [
            envParam,
            query("process", "string", "one process (or restart); default all"),
            query("since", "string", "journalctl --since"),
            query("lines", "integer", "the last N lines (default 100)"),
            query("follow", "string", `1: keep streaming until the client goes away (at most ${FOLLOWS_PER_TOKEN} streams per token, ${FOLLOWS_PER_ENVIRONMENT} per environment; more: 429)`),
          ],
          responses: { "200": sse("event: line | end | error"), ...errors(400, 401, 404, 422, 429) },
        },
      },
      "/previews": {
        get: {
          summary: "the review apps alive ([previews]), read from their host: name, app, url, pr, branch, commit, created, updated",
          responses: { "200": ok("previews", { previews: { type: "array", items: { type: "object" } } }), ...errors(401, 404, 502) },
        },
        post: {
          ...startsRun("deploy a branch or commit of [serve] remote as a review app: pr-N with pr, else br-BRANCH; a new one over previews.max is 422", { ref: "a branch (or, with pr, a commit)", pr: "the pull request's number, as a string" }, ["ref"]),
          parameters: [],
        },
      },
      "/previews/{name}": {
        delete: {
          ...startsRun("destroy a review app: its units, site, ports, releases and databases (no backup kept)", {}),
          parameters: [{ name: "name", in: "path", required: true, schema: { type: "string" }, description: "pr-N, N or br-BRANCH" }],
        },
      },
      "/runs": {
        get: {
          summary: "runs this server started (kept in memory), newest first",
          parameters: [query("env", "string", "only this environment's")],
          responses: { "200": ok("runs", { runs: { type: "array", items: ref("RunRecord") } }), ...errors(401, 404) },
        },
      },
      "/runs/{id}": { get: { summary: "one run", parameters: [idParam], responses: { "200": ok("the run", { run: ref("RunRecord") }), ...errors(401, 404) } } },
      "/runs/{id}/events": {
        get: {
          summary: "a run's events as Server-Sent Events: every event so far, then live ones (`event: op`, data an OpEvent); `event: end` with the RunRecord when it ends",
          parameters: [idParam],
          responses: { "200": sse("event: op | end"), ...errors(401, 404) },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "qdp_ID_SECRET; the dashboard's cookie qdeploy_token works too" } },
      responses: Object.fromEntries(
        [
          [400, "bad usage: a body or query field (named in the message)"],
          [401, "no token, an unknown or an expired one"],
          [403, "the token's role does not allow this"],
          [404, "no such environment, run or route"],
          [409, "another run of this environment is going, or a host's deploy lock is held: error.holder says by whom"],
          [422, "deploy.toml has problems (error.problems), the build failed, or the operation refused"],
          [429, "too many log streams following at once, of this token or environment; Retry-After says when to try again"],
          [502, "a host command or connection failed"],
        ].map(([code, description]) => [`E${code}`, { description, content: json(ref("Error")) }]),
      ),
      schemas: {
        Error: {
          type: "object",
          required: ["ok", "error"],
          properties: {
            ok: { const: false },
            error: {
              type: "object",
              required: ["kind", "message"],
              properties: {
                kind: { enum: ["usage", "config", "build", "remote", "operation", "lock-held", "internal", "not-found", "unauthorized", "forbidden", "too-many"] },
                message: { type: "string" },
                hint: { type: "string" },
                holder: { type: "string" },
                problems: { type: "array", items: { type: "object", properties: { file: { type: "string" }, line: { type: "integer" }, path: { type: "string" }, message: { type: "string" } } } },
              },
            },
          },
        },
        Environment: {
          type: "object",
          required: ["name", "hosts", "roles", "running"],
          properties: {
            name: { type: "string" },
            hosts: { type: "array", items: { type: "string" } },
            roles: { type: "object", additionalProperties: { type: "array", items: { type: "string" } }, description: "host label -> the processes it runs" },
            running: { oneOf: [ref("RunRecord"), { type: "null" }] },
            error: { type: "object", description: "deploy.toml's problem for this environment, if any" },
          },
        },
        RunRecord: {
          type: "object",
          required: ["id", "env", "action", "by", "target", "started", "finished", "state", "result", "error"],
          properties: {
            id: { type: "string" },
            env: { type: "string", description: 'the environment; a review app\'s run: "ENV/pr-N"' },
            action: { enum: ["push", "rollback", "restart", "promote", "preview", "preview-destroy"] },
            by: { type: "string", description: "the token's name, or webhook:..." },
            target: { type: ["string", "null"] },
            started: { type: "string", format: "date-time" },
            finished: { type: ["string", "null"], format: "date-time" },
            state: { enum: ["running", "succeeded", "failed"] },
            result: {},
            error: { type: ["object", "null"] },
          },
        },
      },
    },
  };
}
