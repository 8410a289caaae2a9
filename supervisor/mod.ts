// Copyright the Theater authors. MIT license.
/**
 * Manifests and the actor system of a run.
 *
 * @module
 */
export * from "./manifest.ts";
export * from "./system.ts";

// The types of the packages below this one that its API speaks in, so
// that this module's docs stand on their own.
export type {
  ChainEvent,
  ChainLink,
  EventType,
  FsyncPolicy,
  Json,
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
