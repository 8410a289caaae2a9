// Copyright the Theater authors. MIT license.
/**
 * Theater across hosts over NATS JetStream (docs/cluster.md): chains
 * replicated into a stream with one writer per actor, components in an
 * object store, nodes that place actors and resume a gone node's, and
 * `pull` of a run back to a directory.
 *
 * @module
 */
export * from "./node.ts";
export * from "./one_writer.ts";
export * from "./stream.ts";
export * from "./witness.ts";

// The types of the packages below this one that its API speaks in, so
// that this module's docs stand on their own.
export type {
  ChainEvent,
  ChainLink,
  EventType,
  FsyncPolicy,
  Json,
  SignerKey,
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
export type {
  ClusterRoute,
  LiveRun,
  RequestAnswer,
  RunInfo,
  Runs,
} from "../server/mod.ts";
