// Copyright the Theater authors. MIT license.
/**
 * One instance of an actor component: the host functions it imports go in,
 * its `theater:actor/actor` (and `supervised`) exports come out as plain
 * functions returning discriminated results. A trap is thrown as
 * {@linkcode GuestTrap}; an `err` from the guest is a returned value.
 *
 * This module uses no Deno API and needs no permission, so it runs as is in
 * the actor workers (`permissions: "none"`): the bindings are imported from
 * a `data:` URL, which Deno allows without read permission (a `blob:` URL
 * works too; a `file:` URL of the disk cache would need read permission),
 * and compiled core modules arrive by `postMessage`.
 *
 * @module
 */
import { compileComponent, type Transpiled } from "./_compile.ts";
import { FUEL, INTERRUPT_FUNCTION, INTERRUPT_MODULE } from "./_interrupt.ts";
import { HTTP, MESSAGE, RUNTIME, STORE, SUPERVISOR, TIMERS } from "./wit.ts";

/**
 * When the call under way must stop, on the `performance.now()` clock, and
 * its limit in ms. Instrumented guests check it every {@linkcode FUEL} loop
 * iterations or calls; one call runs at a time on a thread, so one holder
 * per thread is enough.
 */
export const deadline = { at: Infinity, ms: 0 };

/** A call stopped at its deadline. */
export class TimedOut extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "TimedOut";
}

function check(): number {
  if (performance.now() > deadline.at) {
    throw new TimedOut(`timed out after ${deadline.ms} ms`);
  }
  return FUEL;
}

/**
 * Instantiates one core module with the interrupt check every instrumented
 * module imports: pass it to jco bindings as their `instantiateCore`.
 */
export function instantiateCore(
  module: WebAssembly.Module,
  imports?: Record<string, Record<string, unknown>>,
): WebAssembly.Instance {
  return new WebAssembly.Instance(module, {
    ...imports,
    [INTERRUPT_MODULE]: { [INTERRUPT_FUNCTION]: check },
  } as WebAssembly.Imports);
}

/** A result crossing the actor boundary, either way. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * The host side of `theater:actor/{runtime,message,supervisor}`. Every
 * function is synchronous (the guest waits for it). A function that throws
 * makes the guest trap; to give the guest an `err`, return
 * `{ ok: false, error }`.
 */
export interface HostImports {
  /** `theater:actor/runtime`. */
  runtime: {
    log(msg: string): void;
    /** Milliseconds since the Unix epoch. */
    now(): number | bigint;
    random(len: number): Uint8Array;
    selfId(): string;
  };
  /** `theater:actor/message`. */
  message: {
    send(to: string, msg: string): Result<null>;
    /** (0.2.0) Who sent the message being handled. */
    sender(): string;
    /** (0.2.0) Sends a request; its id. */
    request(to: string, msg: string, timeoutMs: number): Result<string>;
  };
  /** `theater:actor/timers` (0.2.0). */
  timers: {
    after(ms: number, msg: string): Result<string>;
    every(ms: number, msg: string): Result<string>;
    cancel(id: string): boolean;
  };
  /** `theater:actor/store` (0.2.0). */
  store: {
    /** Stores a blob; its SHA-256 in hex. */
    put(data: Uint8Array): Result<string>;
    /** A blob by its SHA-256, or null. */
    get(sha256: string): Uint8Array | null;
  };
  /** `theater:actor/http` (0.2.0). */
  http: {
    fetch(request: HttpRequest): Result<HttpResponse>;
  };
  /** `theater:actor/supervisor`. */
  supervisor: {
    /** `params` is null for the WIT `none`. */
    spawn(manifest: string, params: string | null): Result<string>;
    stop(child: string): Result<null>;
    restart(child: string): Result<null>;
    children(): string[];
  };
}

/** An HTTP request as the guest makes it (`theater:actor/http`). */
export interface HttpRequest {
  /** The method, such as `GET`. */
  method: string;
  /** The absolute URL. */
  url: string;
  /** Header names and values, in order. */
  headers: [string, string][];
  /** The body, if any. */
  body: Uint8Array | null;
}

/** An HTTP response as the guest gets it. */
export interface HttpResponse {
  /** The status code. */
  status: number;
  /** Header names (lowercase) and values. */
  headers: [string, string][];
  /** The body. */
  body: Uint8Array;
}

/** What `handle` returns on `ok`: the new state and an optional reply. */
export interface Handled {
  /** The new state, as JSON text. */
  state: string;
  /** The reply, as JSON text, or null when there is none. */
  reply: string | null;
}

/**
 * A live instance. The strings are passed through as the guest returns
 * them: checking that they are JSON is the caller's job. After a trap the
 * instance is dead and every further call throws {@linkcode GuestTrap}.
 */
export interface ActorInstance {
  /** Whether the component exports `theater:actor/supervised`. */
  readonly supervised: boolean;
  /** Whether a call has trapped (the instance is then unusable). */
  readonly trapped: boolean;
  /** `actor.init`: the initial state. */
  init(params: string): Result<string>;
  /** `actor.handle`: the new state and an optional reply. */
  handle(state: string, msg: string): Result<Handled>;
  /** `supervised.on-child-event`, when the component exports it. */
  onChildEvent?(state: string, event: string): Result<string>;
}

/** A component ready to instantiate, as it can be posted to a worker. */
export interface CompiledComponent {
  /** The jco bindings source (an ES module exporting `instantiate`). */
  bindings: string;
  /** The compiled core modules the bindings ask for, by name. */
  modules: Record<string, WebAssembly.Module>;
}

/**
 * The guest trapped (or a host function threw under it): the call has no
 * result and the instance is dead. `cause` holds what was thrown.
 */
export class GuestTrap extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "GuestTrap";
}

/** The `instantiate` function of jco bindings made with `instantiation: "sync"`. */
export type BindingsInstantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore?: (
    module: WebAssembly.Module,
    imports?: Record<string, Record<string, unknown>>,
  ) => WebAssembly.Instance,
) => Record<string, Record<string, (...args: string[]) => unknown>>;

const bindingsCache = new WeakMap<
  CompiledComponent,
  Promise<BindingsInstantiate>
>();

/**
 * Imports jco bindings source as a module from a `data:` URL, which needs
 * no permission (unlike a `file:` URL in a no-permission worker).
 */
export async function loadBindings(
  source: string,
): Promise<BindingsInstantiate> {
  const url = `data:text/javascript,${encodeURIComponent(source)}`;
  const mod = await import(url);
  if (typeof mod.instantiate !== "function") {
    throw new TypeError("the bindings do not export instantiate");
  }
  return mod.instantiate as BindingsInstantiate;
}

/**
 * Instantiates a component against `host`: a compiled one (as posted to a
 * worker), or one from `loadComponent`, whose core modules are then
 * compiled with memories capped at `memoryMb` (default 64), once per
 * component and limit. Bindings are imported once per compiled component;
 * every instance shares the compiled core modules.
 *
 * @throws {ComponentError} when a memory starts above `memoryMb`.
 * @throws {GuestTrap} when the component traps while starting.
 */
export async function instantiate(
  component: CompiledComponent | Transpiled,
  host: HostImports,
  options: { memoryMb?: number } = {},
): Promise<ActorInstance> {
  const compiled = "modules" in component
    ? component
    : compileComponent(component, options);
  let bindings = bindingsCache.get(compiled);
  if (!bindings) {
    bindings = loadBindings(compiled.bindings);
    bindingsCache.set(compiled, bindings);
  }
  return createInstance(await bindings, compiled.modules, host);
}

/** Turns a host `Result` into what jco lowers: a value, or a thrown `err`. */
function lower<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  // jco maps a thrown non-Error to the `err` case; an Error would trap.
  throw String(result.error);
}

function trapOf(fn: string, err: unknown): GuestTrap {
  if (err instanceof GuestTrap) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new GuestTrap(`${fn} trapped: ${reason}`, { cause: err });
}

/**
 * Instantiates with bindings already imported (see
 * {@linkcode loadBindings}): synchronous, for hosts that keep the bindings.
 *
 * @throws {GuestTrap} when the component traps while starting.
 */
export function createInstance(
  bindings: BindingsInstantiate,
  modules: Record<string, WebAssembly.Module>,
  host: HostImports,
): ActorInstance {
  const { runtime, message, supervisor, timers, store, http } = host;
  const imports = {
    [RUNTIME]: {
      log: (msg: string) => void runtime.log(msg),
      now: () => {
        const ms = runtime.now();
        return typeof ms === "bigint" ? ms : BigInt(Math.trunc(ms));
      },
      random: (len: number) => {
        const bytes = runtime.random(len);
        if (!(bytes instanceof Uint8Array)) {
          throw new TypeError("random: the host did not return bytes");
        }
        return bytes;
      },
      selfId: () => runtime.selfId(),
    },
    [MESSAGE]: {
      send: (to: string, msg: string) => lower(message.send(to, msg)),
      sender: () => message.sender(),
      request: (to: string, msg: string, timeoutMs: number) =>
        lower(message.request(to, msg, timeoutMs)),
    },
    [TIMERS]: {
      after: (ms: number, msg: string) => lower(timers.after(ms, msg)),
      every: (ms: number, msg: string) => lower(timers.every(ms, msg)),
      cancel: (id: string) => timers.cancel(id),
    },
    [STORE]: {
      put: (data: Uint8Array) => lower(store.put(data)),
      get: (sha256: string) => store.get(sha256) ?? undefined,
    },
    [HTTP]: {
      fetch: (req: {
        method: string;
        url: string;
        headers: [string, string][];
        body?: Uint8Array;
      }) =>
        lower(http.fetch({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: req.body ?? null,
        })),
    },
    [SUPERVISOR]: {
      spawn: (manifest: string, params: string | undefined) =>
        lower(supervisor.spawn(manifest, params ?? null)),
      stop: (child: string) => lower(supervisor.stop(child)),
      restart: (child: string) => lower(supervisor.restart(child)),
      children: () => supervisor.children(),
    },
  };
  let exports;
  try {
    exports = bindings(
      (name) => {
        const module = modules[name];
        if (!module) throw new TypeError(`no compiled core module ${name}`);
        return module;
      },
      imports,
      instantiateCore,
    );
  } catch (err) {
    throw trapOf("instantiation", err);
  }
  const actor = exports.actor;
  if (!actor?.init || !actor?.handle) {
    throw new TypeError("the bindings do not export theater:actor/actor");
  }
  const onChildEvent = exports.supervised?.onChildEvent;
  let trapped = false;
  let busy = false;

  function call<T>(fn: string, run: () => T): Result<T> {
    if (trapped) {
      throw new GuestTrap(`${fn}: the instance trapped earlier`);
    }
    if (busy) throw new GuestTrap(`${fn}: the instance was re-entered`);
    busy = true;
    try {
      return { ok: true, value: run() };
    } catch (err) {
      // jco throws its own ComponentError, carrying `payload`, for `err`.
      if (err !== null && typeof err === "object" && "payload" in err) {
        return { ok: false, error: String(err.payload) };
      }
      trapped = true;
      throw trapOf(fn, err);
    } finally {
      busy = false;
    }
  }

  const instance: ActorInstance = {
    supervised: typeof onChildEvent === "function",
    get trapped() {
      return trapped;
    },
    init: (params) => call("init", () => actor.init(params) as string),
    handle: (state, msg) =>
      call("handle", () => {
        const [next, reply] = actor.handle(state, msg) as [
          string,
          string | undefined,
        ];
        return { state: next, reply: reply ?? null };
      }),
  };
  if (onChildEvent) {
    instance.onChildEvent = (state, event) =>
      call("on-child-event", () => onChildEvent(state, event) as string);
  }
  return instance;
}
