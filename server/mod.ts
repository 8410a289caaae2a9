// Copyright the Theater authors. MIT license.
/**
 * `theater serve`: a long-running host that owns runs of actors, with a
 * management API (docs/api.md), live events, and the inspector.
 *
 * @module
 */
import type { VerifierKey } from "../chain/mod.ts";
import type { Replication } from "../supervisor/mod.ts";
import { apiApp } from "./api.ts";
import { EventHub } from "./live.ts";
import { Runs } from "./runs.ts";

export {
  type CheckpointStatus,
  MAX_BEHIND,
  MAX_BODY_BYTES,
  MAX_EVENTS,
} from "./api.ts";
export {
  EventHub,
  type Listener,
  parseResume,
  readSse,
  type ResumePoint,
  type SseMessage,
} from "./live.ts";
export { openApi } from "./openapi.ts";
export { type LiveRun, RunError, type RunInfo, Runs } from "./runs.ts";
export {
  defaultTokenFile,
  ensureToken,
  readToken,
  sameToken,
} from "./token.ts";

/** A server that is listening. */
export interface TheaterServer {
  /** Its base URL, `http://host:port`. */
  url: string;
  /** Its runs. */
  runs: Runs;
  /** Stops every run (each actor's `actor.stop` recorded), then listening. */
  close(reason?: string): Promise<void>;
  /** Resolves once the server has closed. */
  finished: Promise<void>;
}

/**
 * Starts a server: runs live under `dir`, the API needs `token`.
 *
 * @param options.hostname where to listen (default 127.0.0.1).
 * @param options.port the port (0: any free one).
 * @param options.inspector the page served at `/`.
 */
export function startServer(
  options: {
    dir: string;
    token: string;
    hostname?: string;
    port?: number;
    cacheDir?: string | false;
    inspector?: () => Response | Promise<Response>;
    /** Keys the chains' checkpoints are checked against. */
    verifiers?: VerifierKey[];
    /** Where each run's chains are copied as well (NATS JetStream). */
    replication?: (run: string) => Replication;
  },
): Promise<TheaterServer> {
  const hub = new EventHub();
  const runs = new Runs(options.dir, {
    cacheDir: options.cacheDir,
    replication: options.replication,
    onEvent: (run, actor, event) => hub.publish(run, actor, event),
  });
  let origins: string[] = [];
  const app = apiApp({
    runs,
    hub,
    token: options.token,
    origins: () => origins,
    inspector: options.inspector,
    verifiers: options.verifiers,
  });
  const abort = new AbortController();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 7070,
      signal: abort.signal,
      onListen: () => {},
    }, app.fetch);
  } catch (err) {
    return Promise.reject(err);
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  origins = [url, `http://localhost:${addr.port}`];
  return Promise.resolve({
    url,
    runs,
    finished: server.finished,
    close: async (reason = "the server is stopping") => {
      await runs.shutdown(reason);
      abort.abort();
      await server.finished;
    },
  });
}
