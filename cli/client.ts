// Copyright the Theater authors. MIT license.
/**
 * The CLI clients of a running `theater serve`: `ps`, `send` and `logs`,
 * so scripts need no curl. The token comes from the file `serve` wrote.
 *
 * @module
 */
import { byTime, type ChainEvent, type Json } from "../chain/mod.ts";
import { parseDocument } from "../runtime/mod.ts";
import {
  defaultTokenFile,
  readSse,
  readToken,
  type RunInfo,
} from "../server/mod.ts";
import { summarize } from "./events.ts";
import {
  type Command,
  out,
  parse,
  stopOnSignals,
  UsageError,
} from "./_common.ts";

const COMMON = `  --server URL        the server (default: $THEATER_SERVER, else
                      http://127.0.0.1:7070)
  --token-file FILE   the token (default: $THEATER_TOKEN_FILE, else
                      ~/.config/theater/token)
  -h, --help          show this help`;

const SERVER_OPTIONS = {
  server: { type: "string" },
  "token-file": { type: "string" },
} as const;

/** A server's base URL and token, from the options. */
function connection(values: Record<string, unknown>): {
  base: string;
  headers: Record<string, string>;
} {
  const base = String(
    values.server ?? Deno.env.get("THEATER_SERVER") ?? "http://127.0.0.1:7070",
  ).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(base)) {
    throw new UsageError(`--server must be http://HOST:PORT, got ${base}`);
  }
  const file = (values["token-file"] as string | undefined) ??
    defaultTokenFile();
  let token: string;
  try {
    token = readToken(file);
  } catch (e) {
    throw new UsageError(
      `cannot read the token in ${file} (start theater serve, or pass --token-file): ${
        (e as Error).message
      }`,
    );
  }
  return { base, headers: { authorization: `Bearer ${token}` } };
}

/** Calls the API; an error answer is thrown with the server's message. */
async function call(
  c: { base: string; headers: Record<string, string> },
  path: string,
  init: { method?: string; body?: Json } = {},
): Promise<Json> {
  let res: Response;
  try {
    res = await fetch(c.base + path, {
      method: init.method ?? "GET",
      headers: { ...c.headers, "content-type": "application/json" },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch (e) {
    throw new ClientError(`cannot reach ${c.base}: ${(e as Error).message}`);
  }
  const body = await res.json().catch(() => null);
  if (!res.ok && res.status !== 422) {
    throw new ClientError(
      `${c.base}: ${res.status}: ${
        (body as { error?: string } | null)?.error ?? res.statusText
      }`,
    );
  }
  return body;
}

/** A server that could not be reached or said no (exit 1). */
export class ClientError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ClientError";
}

/** The one live run, when `--run` is not given. */
async function pickRun(
  c: { base: string; headers: Record<string, string> },
  given: unknown,
): Promise<string> {
  if (typeof given === "string") return given;
  const { runs } = await call(c, "/api/runs") as unknown as {
    runs: RunInfo[];
  };
  const live = runs.filter((r) => r.status === "running");
  if (live.length !== 1) {
    throw new UsageError(
      `--run is needed: the server has ${live.length} running runs${
        live.length ? ` (${live.map((r) => r.id).join(", ")})` : ""
      }`,
    );
  }
  return live[0].id;
}

/** `theater ps`. */
export const psCommand: Command = {
  name: "ps",
  help: `Usage: theater ps [--server URL] [--json]

Lists the runs of a running theater serve and the actor tree of each: status,
restarts, mailbox length and events.

Options:
  --json              print the server's answer as JSON
${COMMON}

Exit status: 0 ok, 1 the server cannot be reached or refused, 2 usage.`,
  async run(args) {
    const { values, positionals } = parse(args, {
      ...SERVER_OPTIONS,
      json: { type: "boolean" },
    });
    if (positionals.length) throw new UsageError("ps takes no arguments");
    const { runs } = await call(connection(values), "/api/runs") as unknown as {
      runs: RunInfo[];
    };
    if (values.json) {
      out(JSON.stringify(runs, null, 2));
      return 0;
    }
    for (const run of runs) {
      out(`${run.id}  ${run.status}  ${run.dir}`);
      for (const a of run.actors) {
        const depth = a.id.split(".").length - 1;
        out(
          `  ${
            "  ".repeat(depth)
          }${a.id}  ${a.status}  restarts ${a.restarts}  mailbox ${a.mailbox}  events ${a.events}`,
        );
      }
    }
    if (runs.length === 0) out("no runs");
    return 0;
  },
};

/** `theater send`. */
export const sendCommand: Command = {
  name: "send",
  help: `Usage: theater send --to ACTOR [--run RUN] [--no-wait] MESSAGE

Sends MESSAGE (a JSON document) to ACTOR in a run of a running theater serve
and prints the reply as a JSON line: {"actor","reply"} or {"actor","error"}.

Options:
  --to ACTOR          the actor (required)
  --run RUN           the run (default: the one running run)
  --timeout-ms N      how long to wait for the reply (default 30000)
  --no-wait           do not wait for the reply
${COMMON}

Exit status: 0 replied, 1 the handler failed or the server refused, 2 usage.`,
  async run(args) {
    const { values, positionals } = parse(args, {
      ...SERVER_OPTIONS,
      to: { type: "string" },
      run: { type: "string" },
      "timeout-ms": { type: "string" },
      "no-wait": { type: "boolean" },
    });
    if (typeof values.to !== "string") throw new UsageError("--to is required");
    if (positionals.length !== 1) {
      throw new UsageError("send takes exactly one message");
    }
    let msg: Json;
    try {
      msg = parseDocument(positionals[0], "message");
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const c = connection(values);
    const run = await pickRun(c, values.run);
    const path = `/api/runs/${encodeURIComponent(run)}/actors/${
      encodeURIComponent(values.to)
    }`;
    if (values["no-wait"]) {
      await call(c, `${path}/send`, { method: "POST", body: { msg } });
      out(JSON.stringify({ actor: values.to, accepted: true }));
      return 0;
    }
    const timeout = values["timeout-ms"] === undefined
      ? undefined
      : Number(values["timeout-ms"]);
    const r = await call(c, `${path}/request`, {
      method: "POST",
      body: { msg, ...(timeout === undefined ? {} : { timeout_ms: timeout }) },
    }) as { ok: boolean; reply?: Json; error?: string };
    out(JSON.stringify(
      r.ok
        ? { actor: values.to, reply: r.reply ?? null }
        : { actor: values.to, error: r.error },
    ));
    return r.ok ? 0 : 1;
  },
};

/** `theater logs`. */
export const logsCommand: Command = {
  name: "logs",
  help: `Usage: theater logs [--run RUN] [--actor ACTOR] [-f]

Prints the events of a run of a running theater serve, one line each
(actor#seq type summary), read from its chains; with -f, keeps following
new events until interrupted (SIGINT ends it, exit 0).

Options:
  --run RUN           the run (default: the one running run)
  --actor ACTOR       one actor's events only
  -f, --follow        keep following
${COMMON}

Exit status: 0 ok, 1 the server cannot be reached or refused, 2 usage.`,
  async run(args) {
    const { values, positionals } = parse(args, {
      ...SERVER_OPTIONS,
      run: { type: "string" },
      actor: { type: "string" },
      follow: { type: "boolean", short: "f" },
    });
    if (positionals.length) throw new UsageError("logs takes no arguments");
    const c = connection(values);
    const run = await pickRun(c, values.run);
    const actor = values.actor as string | undefined;
    const line = (a: string, e: ChainEvent) =>
      out(`${a}#${e.seq} ${e.type} ${summarize(e)}`);
    if (!values.follow) {
      const info = await call(
        c,
        `/api/runs/${encodeURIComponent(run)}`,
      ) as unknown as RunInfo;
      const all: [string, ChainEvent][] = [];
      for (const a of actor ? [actor] : info.chains) {
        const { events } = await call(
          c,
          `/api/runs/${encodeURIComponent(run)}/actors/${
            encodeURIComponent(a)
          }/chain`,
        ) as unknown as { events: ChainEvent[] };
        for (const e of events) all.push([a, e]);
      }
      all.sort((x, y) => byTime(x[1], y[1]));
      for (const [a, e] of all) line(a, e);
      return 0;
    }
    const stop = stopOnSignals();
    const abort = { signal: stop.signal };
    try {
      const path = actor
        ? `/api/runs/${encodeURIComponent(run)}/actors/${
          encodeURIComponent(actor)
        }/events`
        : `/api/runs/${encodeURIComponent(run)}/events`;
      let res: Response;
      try {
        res = await fetch(c.base + path, {
          headers: c.headers,
          signal: abort.signal,
        });
      } catch (e) {
        throw new ClientError(
          `cannot reach ${c.base}: ${(e as Error).message}`,
        );
      }
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ClientError(`${c.base}: ${res.status}: ${body?.error ?? ""}`);
      }
      try {
        for await (const m of readSse(res.body!)) {
          const { actor: a, event } = JSON.parse(m.data);
          line(a, event);
        }
      } catch (e) {
        if (!abort.signal.aborted) throw e;
      }
      return 0;
    } finally {
      stop.dispose();
    }
  },
};
