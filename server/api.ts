// Copyright the Theater authors. MIT license.
/**
 * The management API of `theater serve` (docs/api.md): JSON over HTTP,
 * routed with Hono (a small, well-kept router that runs on Deno's server
 * as is). Every `/api` call needs the bearer token; a browser request
 * from another origin is refused; bodies are size-limited and validated
 * with zod, and every bad request is a 4xx JSON error naming the field.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import {
  type ChainEvent,
  ChainFormatError,
  ChainReadError,
  changes,
  checkChainAgainst,
  CheckpointError,
  diffStates,
  type Json,
  NoSuchEvent,
  openCheckpoint,
  readEvents,
  stateAt,
  StateError,
  type VerifierKey,
  verifyChain,
  verifyDir,
} from "../chain/mod.ts";
import {
  checkDocument,
  parseDocument,
  replayChain,
  ReplayError,
} from "../runtime/mod.ts";
import { DeliveryError } from "../supervisor/mod.ts";
import { type EventHub, parseResume, streamEvents } from "./live.ts";
import { openApi } from "./openapi.ts";
import {
  type RequestAnswer,
  requestWithin,
  RunError,
  type Runs,
  sendNow,
} from "./runs.ts";
import { sameToken } from "./token.ts";
import { INSPECTOR_PATHS } from "./inspector.ts";

/** Largest request body, in bytes: a message of the largest document. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Most events one chain read returns. */
export const MAX_EVENTS = 10_000;
/** Most events queued for one SSE subscriber before it is dropped. */
export const MAX_BEHIND = 100_000;

const encoder = new TextEncoder();
/** Each live event's SSE frame, made once for all its subscribers. */
const frames = new WeakMap<ChainEvent, Uint8Array>();

function frame(actor: string, event: ChainEvent): Uint8Array {
  let bytes = frames.get(event);
  if (!bytes) {
    bytes = encoder.encode(
      `id: ${actor}:${event.seq}\nevent: ${event.type}\ndata: ${
        JSON.stringify({ actor, event })
      }\n\n`,
    );
    frames.set(event, bytes);
  }
  return bytes;
}

/** An API error: its status and a message naming what was wrong. */
function fail(status: number, message: string, field?: string): Response {
  return Response.json(
    { error: message, ...(field ? { field } : {}) },
    { status },
  );
}

const jsonDoc = z.unknown().superRefine((value, ctx) => {
  if (value === undefined) {
    ctx.addIssue({ code: "custom", message: "is required" });
    return;
  }
  const problem = checkDocument(JSON.stringify(value));
  if (problem) ctx.addIssue({ code: "custom", message: problem.message });
});

const schemas = {
  start: z.strictObject({
    manifest: z.string().min(1, "must name a manifest file"),
    id: z.string().optional(),
    node: z.string().optional(),
  }),
  send: z.strictObject({ msg: jsonDoc }),
  request: z.strictObject({
    msg: jsonDoc,
    timeout_ms: z.number().int().min(1).max(600_000).optional(),
  }),
  reason: z.strictObject({ reason: z.string().max(1000).optional() }),
};

/** Reads and validates a JSON body; a Response when it is bad. */
async function body<T>(
  req: Request,
  schema: z.ZodType<T>,
): Promise<T | Response> {
  let value: unknown;
  const text = await req.text();
  try {
    // The gate every document passes before it can enter a chain: 1e400
    // or an integer past 2^53 is refused here, not rounded.
    value = text === "" ? {} : parseDocument(text, "the body");
  } catch (err) {
    return fail(400, (err as Error).message);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.code === "unrecognized_keys"
      ? [...issue.path, issue.keys[0]].join(".")
      : issue.path.join(".");
    const what = issue.code === "unrecognized_keys"
      ? "unknown field"
      : issue.message;
    return fail(400, `field "${field}": ${what}`, field);
  }
  return parsed.data;
}

/** A non-negative integer query parameter, or a Response naming it. */
function intParam(
  value: string | undefined,
  name: string,
): number | undefined | Response {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    return fail(400, `query "${name}" must be a non-negative integer`, name);
  }
  return Number(value);
}

/** How a chain's signed checkpoint stands, for the verify endpoint. */
export interface CheckpointStatus {
  /**
   * `none`: no `<actor>.checkpoint`; `unchecked`: no key to check it with
   * (`serve --pubkey`); `ok`: signed by a known key and the chain holds its
   * tree; `bad`: it is not.
   */
  status: "none" | "unchecked" | "ok" | "bad";
  /** The key that signed it, when ok. */
  signer?: string;
  /** The tree size it covers, when ok. */
  size?: number;
  /** Why it is bad. */
  message?: string;
}

async function checkpointStatus(
  chainPath: string,
  verifiers: VerifierKey[],
): Promise<CheckpointStatus> {
  const path = chainPath.replace(/\.jsonl$/, ".checkpoint");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return { status: "none" };
  }
  if (verifiers.length === 0) return { status: "unchecked" };
  let why = "signed by none of the keys the server knows";
  for (const verifier of verifiers) {
    let checkpoint;
    try {
      checkpoint = await openCheckpoint(text, verifier);
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err;
      why = err.message;
      continue;
    }
    const problem = await checkChainAgainst(chainPath, checkpoint);
    return problem
      ? { status: "bad", message: problem }
      : { status: "ok", signer: verifier.name, size: checkpoint.size };
  }
  return { status: "bad", message: why };
}

/**
 * How the API reaches runs and actors on other nodes of a cluster
 * (cluster/node.ts); without it, only this server's own.
 */
export interface ClusterRoute {
  /** Places a root actor of a run on a node; says which. */
  place(
    run: string,
    manifest: string,
    node?: string,
  ): Promise<{ node: string; run: string }>;
  /** Sends to an actor on whichever node runs it (a RunError if none). */
  send(run: string, actor: string, msg: Json): Promise<void>;
  /** A request to an actor on whichever node runs it; null: no reply. */
  request(
    run: string,
    actor: string,
    msg: Json,
    timeoutMs: number,
  ): Promise<RequestAnswer | null>;
  /** The nodes and where each root actor is placed. */
  nodes(): Promise<unknown[]>;
  /** Where each root actor is placed. */
  placements(): Promise<unknown[]>;
}

/** The Hono app of the API and the inspector. */
export function apiApp(
  options: {
    runs: Runs;
    hub: EventHub;
    token: string;
    /** The server's own origin(s): browser requests from others are refused. */
    origins: () => string[];
    /** The inspector's files by path (`/` and the files it loads). */
    inspector?: (path: string) => Response | Promise<Response>;
    /** Keys that checkpoints (`<actor>.checkpoint`) are checked against. */
    verifiers?: VerifierKey[];
    /** The cluster this server is a node of. */
    cluster?: ClusterRoute;
    /** This node's name in the cluster. */
    nodeName?: string;
  },
): Hono {
  const { runs, hub } = options;
  const app = new Hono();

  app.onError((err) => {
    if (err instanceof RunError) return fail(err.status, err.message);
    if (err instanceof DeliveryError) return fail(404, err.message);
    if (err instanceof NoSuchEvent) return fail(404, err.message);
    // A chain that is not intact, or a component that cannot be found.
    if (err instanceof ReplayError) return fail(422, err.message);
    if (
      err instanceof ChainReadError || err instanceof ChainFormatError ||
      err instanceof StateError
    ) return fail(422, err.message);
    return fail(500, `internal error: ${(err as Error).message}`);
  });
  app.notFound((c) =>
    fail(404, `no such endpoint: ${c.req.method} ${c.req.path}`)
  );

  // A page of another origin may not drive the API with the user's browser.
  app.use("*", async (c, next) => {
    const origin = c.req.header("origin");
    if (origin && !options.origins().includes(origin)) {
      return fail(403, `requests from origin ${origin} are refused`);
    }
    await next();
  });
  app.on("GET", [...INSPECTOR_PATHS], async (c) => {
    if (!options.inspector) return fail(404, "no inspector");
    return await options.inspector(c.req.path);
  });
  app.use("/api/*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer ([0-9a-f]{64})$/.exec(header);
    if (!m || !sameToken(m[1], options.token)) {
      return fail(
        401,
        header
          ? "the bearer token is wrong"
          : "an Authorization: Bearer <token> header is required (the token is in the file theater serve printed)",
      );
    }
    await next();
  });
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => fail(413, `the body is over ${MAX_BODY_BYTES} bytes`),
    }),
  );

  app.get("/api/openapi.json", (c) => c.json(openApi()));

  app.get("/api/runs", (c) => c.json({ runs: runs.list() }));
  app.post("/api/runs", async (c) => {
    const b = await body(c.req.raw, schemas.start);
    if (b instanceof Response) return b;
    if (options.cluster) {
      const placed = await options.cluster.place(
        b.id ?? "",
        b.manifest,
        b.node,
      );
      return c.json(
        placed.node === options.nodeName
          ? { ...runs.info(placed.run), node: placed.node }
          : { id: placed.run, node: placed.node },
        201,
      );
    }
    if (b.node !== undefined) {
      return fail(400, `field "node": this server is not in a cluster`);
    }
    const run = await runs.start(b.manifest, { id: b.id });
    return c.json(runs.info(run.id), 201);
  });
  app.get("/api/cluster", async (c) => {
    if (!options.cluster) return fail(404, "this server is not in a cluster");
    return c.json({
      node: options.nodeName,
      nodes: await options.cluster.nodes(),
      placements: await options.cluster.placements(),
    });
  });
  app.get("/api/runs/:run", (c) => c.json(runs.info(c.req.param("run"))));
  app.delete("/api/runs/:run", async (c) => {
    const id = c.req.param("run");
    runs.live(id);
    await runs.stop(id, "stopped through the API");
    return c.json(runs.info(id));
  });

  /** A live run with the actor here, or null when a node of the cluster may have it. */
  const here = (id: string, actor: string) => {
    try {
      return runs.liveActor(id, actor);
    } catch (err) {
      if (options.cluster && err instanceof RunError && err.status !== 400) {
        return null;
      }
      throw err;
    }
  };
  app.post("/api/runs/:run/actors/:actor/send", async (c) => {
    const actor = c.req.param("actor");
    const run = here(c.req.param("run"), actor);
    const b = await body(c.req.raw, schemas.send);
    if (b instanceof Response) return b;
    if (!run) {
      await options.cluster!.send(c.req.param("run"), actor, b.msg as Json);
      return c.json({ accepted: true }, 202);
    }
    const refused = await sendNow(run.system, {
      to: actor,
      msg: b.msg as Json,
    });
    if (refused) return fail(429, refused.message);
    return c.json({ accepted: true }, 202);
  });
  app.post("/api/runs/:run/actors/:actor/request", async (c) => {
    const actor = c.req.param("actor");
    const run = here(c.req.param("run"), actor);
    const b = await body(c.req.raw, schemas.request);
    if (b instanceof Response) return b;
    const timeout = b.timeout_ms ?? 30_000;
    if (!run) {
      const r = await options.cluster!.request(
        c.req.param("run"),
        actor,
        b.msg as Json,
        timeout,
      );
      if (r === null) {
        return fail(504, `no reply within ${timeout} ms (timeout_ms)`);
      }
      return r.ok
        ? c.json({ ok: true, reply: r.reply, seq: r.seq })
        : c.json({ ok: false, error: r.error, seq: r.seq }, 422);
    }
    const r = await requestWithin(run.system, {
      to: actor,
      msg: b.msg as Json,
      timeoutMs: timeout,
    });
    if (r === null) {
      return fail(504, `no reply within ${timeout} ms (timeout_ms)`);
    }
    return r.ok
      ? c.json({ ok: true, reply: r.reply, seq: r.seq })
      : c.json({ ok: false, error: r.error, seq: r.seq }, 422);
  });
  app.post("/api/runs/:run/actors/:actor/stop", async (c) => {
    const actor = c.req.param("actor");
    const run = runs.liveActor(c.req.param("run"), actor);
    const b = await body(c.req.raw, schemas.reason);
    if (b instanceof Response) return b;
    await run.system.stop(actor, b.reason ?? "stopped through the API");
    return c.json(runs.info(run.id));
  });
  app.post("/api/runs/:run/actors/:actor/restart", async (c) => {
    const run = runs.live(c.req.param("run"));
    const b = await body(c.req.raw, schemas.reason);
    if (b instanceof Response) return b;
    await run.system.restart(
      c.req.param("actor"),
      b.reason ?? "restarted through the API",
    );
    return c.json(runs.info(run.id));
  });

  app.get("/api/runs/:run/actors/:actor/chain", async (c) => {
    const path = runs.chain(c.req.param("run"), c.req.param("actor"));
    const from = intParam(c.req.query("from"), "from");
    const to = intParam(c.req.query("to"), "to");
    if (from instanceof Response) return from;
    if (to instanceof Response) return to;
    const events: ChainEvent[] = [];
    let more = false;
    let broken: string | null = null;
    try {
      for await (const e of readEvents(path)) {
        if (from !== undefined && e.seq < from) continue;
        if (to !== undefined && e.seq > to) break;
        if (events.length === MAX_EVENTS) {
          more = true;
          break;
        }
        events.push(e);
      }
    } catch (err) {
      // An altered chain: its intact events, and where it breaks.
      if (!(err instanceof ChainFormatError)) throw err;
      broken = err.message;
    }
    return c.json({ events, more, broken });
  });
  app.get("/api/runs/:run/actors/:actor/state", async (c) => {
    const path = runs.chain(c.req.param("run"), c.req.param("actor"));
    const at = intParam(c.req.query("at"), "at");
    const from = intParam(c.req.query("from"), "from");
    if (at instanceof Response) return at;
    if (from instanceof Response) return from;
    if (at === undefined) return fail(400, 'query "at" is required', "at");
    const state = await stateAt(path, at);
    if (from === undefined) return c.json({ at, state });
    const before = await stateAt(path, from);
    return c.json({
      at,
      from,
      state,
      before,
      changes: changes(before, state),
      patch: diffStates(before, state),
    });
  });
  app.get("/api/runs/:run/verify", async (c) => {
    const dir = runs.folder(c.req.param("run"));
    runs.chains(c.req.param("run"));
    return c.json(await verifyDir(dir));
  });
  app.get("/api/runs/:run/actors/:actor/verify", async (c) => {
    const path = runs.chain(c.req.param("run"), c.req.param("actor"));
    return c.json({
      ...await verifyChain(path),
      checkpoint: await checkpointStatus(path, options.verifiers ?? []),
    });
  });
  app.post("/api/runs/:run/actors/:actor/replay", async (c) => {
    const path = runs.chain(c.req.param("run"), c.req.param("actor"));
    return c.json(await replayChain(path));
  });

  const stream = (c: Context, actor: string | null) => {
    const run = c.req.param("run")!;
    const dir = runs.folder(run);
    runs.chains(run);
    if (actor !== null) runs.chain(run, actor);
    const from = parseResume(
      c.req.header("last-event-id") ?? c.req.query("from") ?? null,
      actor,
    );
    if (!from) {
      return fail(
        400,
        'Last-Event-ID (or "from") must be <actor>:<seq>[,...] or a seq',
        "from",
      );
    }
    // The stream is made here rather than with a helper: each event is
    // serialised once, and the same bytes go to every subscriber.
    const abort = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        streamEvents({
          hub,
          run,
          actor,
          from,
          signal: abort.signal,
          chains: () => runs.chains(run).map((a) => `${dir}/${a}.jsonl`),
          send: (a, e) => {
            controller.enqueue(frame(a, e));
            // A subscriber this far behind is dropped; it resumes from
            // its Last-Event-ID when it can keep up.
            if ((controller.desiredSize ?? 0) < -MAX_BEHIND) {
              abort.abort();
            }
            return Promise.resolve();
          },
        }).catch(() => {}).finally(() => {
          try {
            controller.close();
          } catch {
            // Already cancelled by the client.
          }
        });
      },
      cancel() {
        abort.abort();
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  };
  app.get("/api/runs/:run/events", (c) => stream(c, null));
  app.get(
    "/api/runs/:run/actors/:actor/events",
    (c) => stream(c, c.req.param("actor")),
  );
  return app;
}
