// Copyright the Theater authors. MIT license.
/**
 * Gates: the workers that do, for guests, what needs a permission the
 * guests' workers do not have — read a blob from the run's store, make an
 * HTTP request under a grant. A gate is started with exactly the Deno
 * permissions its grant needs (read of the store; net to the granted
 * hosts), so the grant is enforced by Deno and not only by string checks.
 * Guests call a gate synchronously (see `_gate_client.ts`): a host
 * function of the component model cannot wait for a promise.
 *
 * @module
 */
import type { GateConfig, ToGate } from "./_gate_worker.ts";
import { type HttpGrant, netHosts } from "./http_grant.ts";

export type { GateConfig } from "./_gate_worker.ts";

/** One gate worker; guests connect to it by port. */
export class Gate {
  /** Names the gate in messages to the actor workers. */
  readonly key: string;
  #worker: Worker;

  /** Starts the gate worker with the permissions `config` needs. */
  constructor(key: string, config: GateConfig) {
    this.key = key;
    this.#worker = new Worker(new URL("./_gate_worker.ts", import.meta.url), {
      type: "module",
      deno: {
        permissions: {
          read: config.storeDir ? [config.storeDir] : false,
          net: config.grant ? netHosts([config.grant]) : false,
          env: false,
          write: false,
          run: false,
          ffi: false,
          sys: false,
          import: false,
        },
      },
    } as WorkerOptions);
    this.#worker.postMessage({ type: "config", config } satisfies ToGate);
  }

  /** A new port for one guest thread; its other end is in the gate. */
  connect(): MessagePort {
    const channel = new MessageChannel();
    this.#worker.postMessage(
      { type: "port", port: channel.port2 } satisfies ToGate,
      [channel.port2],
    );
    return channel.port1;
  }

  /** Stops the gate worker. */
  close(): void {
    this.#worker.terminate();
  }
}

/**
 * The gates of a run, one per distinct grant (and one for actors without
 * a grant, which may only read the store), started as actors need them.
 */
export class Gates {
  #gates = new Map<string, Gate>();
  #storeDir: string | null;

  /**
   * Makes the gates of a run (none started yet).
   *
   * @param options.storeDir the run's blob store.
   */
  constructor(options: { storeDir: string | null }) {
    this.#storeDir = options.storeDir;
  }

  /**
   * The gate for a grant (null: none) with these secret values, and the
   * key of their recorded HMACs.
   */
  for(
    grant: HttpGrant | null,
    options: { secrets?: string[]; hmacKey?: Uint8Array | null } = {},
  ): Gate {
    const secrets = options.secrets ?? [];
    const key = JSON.stringify([grant, secrets]);
    let gate = this.#gates.get(key);
    if (!gate) {
      gate = new Gate(`gate-${this.#gates.size}`, {
        storeDir: this.#storeDir,
        grant,
        secrets,
        hmacKey: options.hmacKey ?? null,
      });
      this.#gates.set(key, gate);
    }
    return gate;
  }

  /** Stops every gate. */
  close(): void {
    for (const gate of this.#gates.values()) gate.close();
    this.#gates.clear();
  }
}
