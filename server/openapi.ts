// Copyright the Theater authors. MIT license.
/**
 * The OpenAPI 3.1 document of the management API, served at
 * `/api/openapi.json`. docs/api.md says the same in prose.
 *
 * @module
 */

const error = {
  description: "an error: `{error, field?}`",
  content: {
    "application/json": { schema: { $ref: "#/components/schemas/Error" } },
  },
};
const json = (description: string, schema: Record<string, unknown> = {}) => ({
  description,
  content: { "application/json": { schema } },
});
const run = {
  name: "run",
  in: "path",
  required: true,
  schema: { type: "string" },
};
const actor = {
  name: "actor",
  in: "path",
  required: true,
  schema: { type: "string" },
};
const errors = {
  "400": error,
  "401": error,
  "403": error,
  "404": error,
};
const body = (schema: Record<string, unknown>) => ({
  required: true,
  content: { "application/json": { schema } },
});
const sse = {
  description:
    "Server-Sent Events: one per chain event, id `<actor>:<seq>`, event the event type, data `{actor, event}`; resume with Last-Event-ID (`a:5,b:7`, or a seq for one actor)",
  content: { "text/event-stream": { schema: { type: "string" } } },
};

/** The OpenAPI document. */
export function openApi(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "Theater management API",
      version: "1.0.0",
      description:
        "Runs of actors, their chains, state, verification, replay and live events. Every call needs `Authorization: Bearer <token>`.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: { type: "string" },
            field: { type: "string" },
          },
        },
        Run: {
          type: "object",
          properties: {
            id: { type: "string" },
            dir: { type: "string" },
            status: { enum: ["running", "stopped"] },
            reason: { type: ["string", "null"] },
            manifest: { type: ["string", "null"] },
            chains: { type: "array", items: { type: "string" } },
            ended: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  id: { type: "string" },
                  status: { enum: ["stopped", "failed"] },
                  reason: { type: "string" },
                },
              },
            },
            given_up: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  id: { type: "string" },
                  reason: { type: "string" },
                },
              },
            },
            actors: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  id: { type: "string" },
                  parent: { type: ["string", "null"] },
                  children: { type: "array", items: { type: "string" } },
                  status: { enum: ["running", "restarting"] },
                  restarts: { type: "integer" },
                  mailbox: { type: "integer" },
                  events: { type: "integer" },
                  component: { type: "string" },
                },
              },
            },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/api/runs": {
        get: {
          summary: "list runs",
          responses: { "200": json("runs"), ...errors },
        },
        post: {
          summary: "start (or resume) a run from a manifest",
          requestBody: body({
            type: "object",
            required: ["manifest"],
            properties: {
              manifest: { type: "string", description: "path of the manifest" },
              id: { type: "string", description: "run id (default: its name)" },
              node: {
                type: "string",
                description:
                  "in a cluster: the node to place the root actor on (default: the manifest's node, else the least loaded)",
              },
            },
            additionalProperties: false,
          }),
          responses: {
            "201": json("the run", { $ref: "#/components/schemas/Run" }),
            "409": error,
            "413": error,
            ...errors,
          },
        },
      },
      "/api/cluster": {
        get: {
          summary:
            "this node's name, the cluster's nodes (load, API, alive) and placements",
          responses: { "200": json("the cluster"), ...errors },
        },
      },
      "/api/runs/{run}": {
        parameters: [run],
        get: {
          summary: "a run and its actor tree",
          responses: {
            "200": json("the run", { $ref: "#/components/schemas/Run" }),
            ...errors,
          },
        },
        delete: {
          summary: "stop a run (every actor's actor.stop recorded)",
          responses: { "200": json("the run"), "409": error, ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/send": {
        parameters: [run, actor],
        post: {
          summary: "send a message (accepted; the reply goes to the events)",
          requestBody: body({
            type: "object",
            required: ["msg"],
            properties: { msg: {} },
          }),
          responses: {
            "202": json("accepted"),
            "409": error,
            "429": error,
            ...errors,
          },
        },
      },
      "/api/runs/{run}/actors/{actor}/request": {
        parameters: [run, actor],
        post: {
          summary: "send a message and wait for the handler's reply",
          requestBody: body({
            type: "object",
            required: ["msg"],
            properties: { msg: {}, timeout_ms: { type: "integer" } },
          }),
          responses: {
            "200": json("`{ok: true, reply, seq}`"),
            "422": json("the handler failed: `{ok: false, error, seq}`"),
            "504": error,
            "409": error,
            ...errors,
          },
        },
      },
      "/api/runs/{run}/actors/{actor}/stop": {
        parameters: [run, actor],
        post: {
          summary: "stop an actor and its children",
          requestBody: body({
            type: "object",
            properties: { reason: { type: "string" } },
          }),
          responses: { "200": json("the run"), "409": error, ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/restart": {
        parameters: [run, actor],
        post: {
          summary: "restart an actor as its supervisor would",
          requestBody: body({
            type: "object",
            properties: { reason: { type: "string" } },
          }),
          responses: { "200": json("the run"), "409": error, ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/chain": {
        parameters: [
          run,
          actor,
          { name: "from", in: "query", schema: { type: "integer" } },
          { name: "to", in: "query", schema: { type: "integer" } },
        ],
        get: {
          summary:
            "a chain's events (at most 10,000; `more` says if there are more)",
          responses: { "200": json("`{events, more}`"), ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/state": {
        parameters: [
          run,
          actor,
          {
            name: "at",
            in: "query",
            required: true,
            schema: { type: "integer" },
          },
          { name: "from", in: "query", schema: { type: "integer" } },
        ],
        get: {
          summary:
            "the state after event `at`; with `from`, the diff between the two",
          responses: {
            "200": json(
              "`{at, state}` or `{at, from, state, before, changes, patch}`",
            ),
            ...errors,
          },
        },
      },
      "/api/runs/{run}/verify": {
        parameters: [run],
        get: {
          summary: "verify a run directory",
          responses: { "200": json("a DirReport"), ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/verify": {
        parameters: [run, actor],
        get: {
          summary: "verify one chain",
          responses: { "200": json("a ChainReport"), ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/replay": {
        parameters: [run, actor],
        post: {
          summary: "replay a chain",
          responses: { "200": json("a ReplayReport"), ...errors },
        },
      },
      "/api/runs/{run}/events": {
        parameters: [run],
        get: {
          summary: "live events of a run",
          responses: { "200": sse, ...errors },
        },
      },
      "/api/runs/{run}/actors/{actor}/events": {
        parameters: [run, actor],
        get: {
          summary: "live events of an actor",
          responses: { "200": sse, ...errors },
        },
      },
      "/api/openapi.json": {
        get: {
          summary: "this document",
          responses: { "200": json("OpenAPI 3.1") },
        },
      },
    },
  };
}
