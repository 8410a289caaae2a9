// Copyright the Theater authors. MIT license.
/**
 * `theater serve`: a long-running host that owns runs of actors, with a
 * management API (docs/api.md), live events, and the inspector.
 *
 * @module
 */
import type { ChainEvent, VerifierKey } from "../chain/mod.ts";
import type { Remote, Replication } from "../supervisor/mod.ts";
import { apiApp, type ClusterRoute } from "./api.ts";
import { EventHub } from "./live.ts";
import { Runs } from "./runs.ts";

export {
  type CheckpointStatus,
  type ClusterRoute,
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
export {
  ACTOR_ID,
  type LiveRun,
  type RequestAnswer,
  requestWithin,
  RUN_ID,
  RunError,
  type RunInfo,
  Runs,
  sendNow,
} from "./runs.ts";
export {
  defaultTokenFile,
  ensureToken,
  readToken,
  sameToken,
} from "./token.ts";

// The types of the packages below this one that its API speaks in, so
// that this module's docs stand on their own.
export type {
  ChainEvent,
  ChainLink,
  EventType,
  FsyncPolicy,
  Json,
  VerifierKey,
} from "../chain/mod.ts";
export type {
  ActorExecutor,
  ActorLimits,
  ActorSlot,
  CallContext,
  CallQuota,
  Clock,
  Delivery,
  Effect,
  Executor,
  ExecutorComponent,
  Gate,
  GuestComponent,
  GuestFunction,
  GuestOutcome,
  HostCallRecord,
  HttpGrant,
  Outgoing,
  RespondTo,
  SecretHeader,
  TimerId,
  TimerOptions,
} from "../runtime/mod.ts";
export type {
  ActorInfo,
  ActorSystem,
  Manifest,
  Remote,
  RemoteMessage,
  Replication,
  ResolvedManifest,
  SystemEvents,
  SystemOptions,
} from "../supervisor/mod.ts";

/** What a server needs of the cluster it is a node of (cluster/node.ts). */
export interface ServerNode extends ClusterRoute {
  /** The node's name. */
  readonly name: string;
  /** How a run's actor system reaches the run's actors on other nodes. */
  remote(run: string): Remote;
  /** Every event of this node's runs (an actor starts or stops here). */
  onEvent(run: string, actor: string, event: ChainEvent): void;
  /** Starts the node's work for these runs; `api` is this server's URL. */
  serve(runs: Runs, api: string): Promise<void>;
  /**
   * Takes over no more placements of gone nodes (the server is stopping),
   * but goes on beating while its runs stop.
   */
  leave(): void;
  /** Leaves the cluster (after the runs have stopped). */
  close(): Promise<void>;
}

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
    /** The cluster node this server is (with `replication`). */
    node?: ServerNode;
  },
): Promise<TheaterServer> {
  const hub = new EventHub();
  const node = options.node;
  const runs = new Runs(options.dir, {
    cacheDir: options.cacheDir,
    replication: options.replication,
    remote: node ? (run) => node.remote(run) : undefined,
    onEvent: node
      ? (run, actor, event) => {
        node.onEvent(run, actor, event);
        hub.publish(run, actor, event);
      }
      : (run, actor, event) => hub.publish(run, actor, event),
  });
  let origins: string[] = [];
  const app = apiApp({
    runs,
    hub,
    token: options.token,
    origins: () => origins,
    inspector: options.inspector,
    verifiers: options.verifiers,
    cluster: node,
    nodeName: node?.name,
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
  const started = node ? node.serve(runs, url) : Promise.resolve();
  return started.then(() => ({
    url,
    runs,
    finished: server.finished,
    close: async (reason = "the server is stopping") => {
      node?.leave();
      await runs.shutdown(reason);
      await node?.close();
      abort.abort();
      await server.finished;
    },
  }), async (err) => {
    abort.abort();
    await server.finished;
    throw err;
  });
}
