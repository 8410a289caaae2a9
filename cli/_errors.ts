// Copyright the Theater authors. MIT license.
/**
 * How `theater` ends when a command throws: the line it prints and the
 * exit status, by the error's class. The classes live in modules a short
 * command never loads (the runtime, the supervisor, NATS), so they are
 * looked up by the error's name and imported only then: a module that
 * made the error is already loaded, and `instanceof` against the class
 * it exports confirms the name (an unrelated error of the same name is
 * not mistaken for ours).
 *
 * @module
 */
import { describeOsError, err, UsageError } from "./_common.ts";

type Module = Record<string, unknown>;

/**
 * What an error of a known class prints — its message alone (`bare`: it
 * names its file already) or after `theater <command>: ` — and its exit
 * status.
 */
interface Known {
  load(): Promise<Module>;
  bare?: true;
  code(error: Error): number;
}

const chain = () => import("../chain/mod.ts");
const one = () => 1;
const two = () => 2;

const KNOWN: Record<string, Known> = {
  ChainFormatError: { load: chain, bare: true, code: one },
  ProofError: { load: chain, bare: true, code: one },
  CheckpointError: { load: chain, bare: true, code: one },
  NoSuchEvent: { load: chain, code: one },
  StateError: { load: chain, code: one },
  ClientError: { load: () => import("./client.ts"), code: one },
  ReplayError: {
    load: () => import("../runtime/mod.ts"),
    code: (e) => (e as { reason?: string }).reason === "not-intact" ? 1 : 2,
  },
  ChainReadError: { load: chain, code: two },
  ChainWriteError: { load: chain, code: two },
  ManifestError: { load: () => import("../supervisor/mod.ts"), code: two },
  ComponentError: { load: () => import("../runtime/mod.ts"), code: two },
  StreamError: { load: () => import("../cluster/mod.ts"), code: two },
};

/** The known class `error` is an instance of, if any. */
async function known(error: Error): Promise<Known | undefined> {
  if (!Object.hasOwn(KNOWN, error.name)) return undefined;
  const entry = KNOWN[error.name];
  // A module that cannot be loaded cannot have made the error.
  const module = await entry.load().catch(() => ({} as Module));
  const cls = module[error.name];
  return typeof cls === "function" && error instanceof cls ? entry : undefined;
}

/**
 * Prints what `theater <command>` says when it throws `error` (one line,
 * never a stack trace) and returns the exit status: 2 for a usage mistake
 * or a failure to do the work, 1 for a chain or proof found wanting.
 */
export async function reportError(
  command: string,
  error: unknown,
): Promise<number> {
  if (error instanceof UsageError) {
    err(
      `theater ${command}: ${error.message}\nRun 'theater ${command} --help' for usage.`,
    );
    return 2;
  }
  if (error instanceof Error) {
    const entry = await known(error);
    if (entry) {
      err(entry.bare ? error.message : `theater ${command}: ${error.message}`);
      return entry.code(error);
    }
  }
  if (error instanceof Deno.errors.BrokenPipe) return 0;
  const os = describeOsError(error);
  if (os !== null) {
    err(`theater ${command}: ${os}`);
    return 2;
  }
  err(
    `theater ${command}: ${
      error instanceof Error ? error.message : String(error)
    }`,
  );
  return 2;
}
