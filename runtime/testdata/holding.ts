// Copyright the Theater authors. MIT license.
/**
 * A component, as executors take it, whose handler holds its worker
 * without spinning (it waits on an atomic nobody wakes) until the worker
 * is killed or `holdMs` passes. Ordering tests use it as "an actor busy
 * for as long as the test says": its call ends when the pool's watchdog,
 * on the test's clock, cuts it off, whereas a spinning guest stops at
 * its limit on the machine's clock and costs a core until then.
 *
 * @module
 */
import type { ActorSlot, ExecutorComponent } from "../executor.ts";
import { WorkerPool } from "../executor.ts";

/** The holding component; `init` answers `{}` at once. */
export function holdingComponent(holdMs: number): ExecutorComponent {
  return {
    key: `holding:${holdMs}`,
    bindings: `export function instantiate() {
  return { actor: {
    init: () => "{}",
    handle: (state) => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs});
      return [state, undefined];
    },
  } };
}`,
    modules: {},
  };
}

/**
 * A worker pool that runs the actors named in `held` with the holding
 * component instead of their own; every other actor runs as usual.
 */
export class HoldingPool extends WorkerPool {
  #held: Set<string>;
  #component: ExecutorComponent;

  /** Makes the pool; `options` as for {@linkcode WorkerPool}. */
  constructor(
    held: string[],
    options: ConstructorParameters<typeof WorkerPool>[0] & { holdMs: number },
  ) {
    super(options);
    this.#held = new Set(held);
    this.#component = holdingComponent(options.holdMs);
  }

  /** Registers the actor, with the holding component if it is held. */
  override register(actor: string, slot: ActorSlot): void {
    super.register(
      actor,
      this.#held.has(actor) ? { ...slot, component: this.#component } : slot,
    );
  }
}
