// Copyright the Theater authors. MIT license.
/**
 * Actor manifests (docs/manifest.md): parsed, validated against a schema,
 * and resolved against the manifest's own directory.
 *
 * @module
 */
import {
  basename,
  dirname,
  isAbsolute,
  join,
  relative,
  resolve,
  sep,
} from "node:path";
import { z } from "zod";
import {
  describeIoError,
  FSYNC_POLICIES,
  type Json,
  readRegularFileSync,
} from "../chain/mod.ts";
import {
  type ActorLimits,
  checkDocument,
  DEFAULT_LIMITS,
  HTTP_GRANT_BOUNDS,
  HTTP_METHODS,
  type HttpGrant,
  LIMIT_FIELDS,
  limitsOf,
  MAX_DOCUMENT_BYTES,
  normalizeOrigin,
} from "../runtime/mod.ts";

const ACTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A cluster node's name (`theater serve --node`). */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const json: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(json),
    z.record(z.string(), json),
  ])
);

const relativePath = z.string().min(1, "must not be empty");

const B = HTTP_GRANT_BOUNDS;
const httpGrantSchema = z.strictObject({
  origins: z.array(z.string()).min(1, "must name at least one origin"),
  methods: z.array(z.enum(HTTP_METHODS as [string, ...string[]])).min(1)
    .optional(),
  max_request_bytes: z.number().int().min(0).max(B.maxRequestBytes.max)
    .optional(),
  max_response_bytes: z.number().int().min(1).max(B.maxResponseBytes.max)
    .optional(),
  timeout_ms: z.number().int().min(1).max(B.timeoutMs.max).optional(),
  secret_headers: z.array(z.strictObject({
    header: z.string().regex(
      /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/,
      "must be an HTTP header name",
    ),
    env: z.string().regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "must be an environment variable name",
    ),
    prefix: z.string().max(64).optional(),
  })).optional(),
});

const manifestSchema = z.strictObject({
  name: z.string().regex(
    ACTOR_NAME,
    "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit",
  ),
  component: relativePath,
  params: json.optional(),
  node: z.string().regex(
    NODE_NAME,
    "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit",
  ).optional(),
  chain: z.strictObject({
    dir: relativePath.optional(),
    fsync: z.enum(FSYNC_POLICIES as [string, ...string[]]).optional(),
    checkpoint: z.strictObject({
      key: relativePath,
      every: z.number().int().positive(),
    }).optional(),
  }).optional(),
  limits: z.strictObject(
    Object.fromEntries(
      Object.entries(LIMIT_FIELDS).map(([name, f]) => [
        name,
        z.number().int().min(f.min).max(f.max).optional(),
      ]),
    ),
  ).optional(),
  grants: z.strictObject({ http: httpGrantSchema.optional() }).optional(),
  supervision: z.strictObject({
    strategy: z.enum(["one-for-one", "one-for-all", "rest-for-one"])
      .optional(),
    restart: z.enum(["permanent", "transient", "temporary"]).optional(),
    restart_from: z.enum(["last-state", "init"]).optional(),
    max_restarts: z.number().int().nonnegative().optional(),
    period_ms: z.number().int().positive().optional(),
  }).optional(),
  children: z.array(z.strictObject({
    manifest: relativePath,
    params: json.optional(),
  })).optional(),
});

/**
 * A manifest as written in `manifest.json`: what the schema in this module
 * accepts, spelled out (keep the two in step).
 */
export type Manifest = {
  /** The actor's name; the root actor's id. */
  name: string;
  /** Path of the component the actor runs. */
  component: string;
  /** Passed to `init` as a JSON document. */
  params?: Json;
  /** The cluster node to place a root actor on. */
  node?: string;
  /** Where the chain goes, when it reaches the disk, and its checkpoints. */
  chain?: {
    dir?: string;
    fsync?: string;
    checkpoint?: { key: string; every: number };
  };
  /** Limits by their manifest names, such as `memory_mb`. */
  limits?: { [name: string]: number | undefined };
  /** What the actor may reach outside the run (docs/manifest.md). */
  grants?: {
    http?: {
      origins: string[];
      methods?: string[];
      max_request_bytes?: number;
      max_response_bytes?: number;
      timeout_ms?: number;
      secret_headers?: { header: string; env: string; prefix?: string }[];
    };
  };
  /** How this actor and its children are restarted. */
  supervision?: {
    strategy?: "one-for-one" | "one-for-all" | "rest-for-one";
    restart?: "permanent" | "transient" | "temporary";
    restart_from?: "last-state" | "init";
    max_restarts?: number;
    period_ms?: number;
  };
  /** Child actors started with this one: manifest paths and params. */
  children?: { manifest: string; params?: Json }[];
};

// The written-out type and the schema must agree both ways: a field added
// to one only fails type checking here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _manifestTypeMatchesSchema: Same<
  z.infer<typeof manifestSchema>,
  Manifest
> = true;
void _manifestTypeMatchesSchema;

/** A validated manifest with defaults filled in and paths resolved. */
export interface ResolvedManifest {
  /** Absolute path of the manifest file. */
  path: string;
  /** The manifest as written (recorded in `actor.start`). */
  manifest: Manifest;
  /** The actor's name. */
  name: string;
  /** Absolute path of the component. */
  component: string;
  /** The params for `init` (null when the manifest gives none). */
  params: Json;
  /**
   * The cluster node a root actor is placed on (`theater serve --node`);
   * null: the least loaded one. Ignored outside a cluster.
   */
  node: string | null;
  /** Absolute path of the run directory the chains go in. */
  chainDir: string;
  /** When events reach the disk. */
  fsync: "every-event" | "batch" | "none";
  /** Sign a checkpoint every `every` events with the key at `key`. */
  checkpoint: { key: string; every: number } | null;
  /** The actor's limits, defaults filled in. */
  limits: ActorLimits;
  /** What the actor may do over HTTP, defaults filled in; null: nothing. */
  http: HttpGrant | null;
  /** How this actor and its children are restarted, defaults filled in. */
  supervision: {
    strategy: "one-for-one" | "one-for-all" | "rest-for-one";
    restart: "permanent" | "transient" | "temporary";
    maxRestarts: number;
    /** On restart: resume the last committed state, or run `init` again. */
    restartFrom: "last-state" | "init";
    periodMs: number;
  };
  /** Absolute paths of the child manifests, with their params. */
  children: { manifest: string; params?: Json }[];
}

/** A manifest that cannot be read or is not valid; names file and field. */
export class ManifestError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ManifestError";
}

/** Default limits and supervision, as documented in docs/manifest.md. */
export const DEFAULTS = {
  handleTimeoutMs: DEFAULT_LIMITS.handleTimeoutMs,
  memoryMb: DEFAULT_LIMITS.memoryMb,
  fsync: "every-event",
  strategy: "one-for-one",
  restart: "permanent",
  maxRestarts: 3,
  periodMs: 5000,
} as const;

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) =>
    typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`
  ).join("");
}

/**
 * Resolves a relative `path` against `dir`, refusing an absolute path or
 * one that leaves `dir`, as written or once its symbolic links are
 * followed (a link inside `dir` to a file outside it is outside); `what`
 * names the field in the error. The path need not exist yet (a chain
 * directory is made later): the part that exists is resolved, links that
 * lead nowhere yet included.
 *
 * @throws {ManifestError}
 */
export function resolveInside(dir: string, path: string, what: string): string {
  const full = resolve(dir, path);
  if (isAbsolute(path) || _leaves(resolve(dir), full)) {
    throw new ManifestError(
      `${what}: ${
        JSON.stringify(path)
      } points outside the manifest's directory`,
    );
  }
  let real: string;
  try {
    real = _followLinks(full);
    if (!_leaves(_followLinks(resolve(dir)), real)) return full;
  } catch (err) {
    throw new ManifestError(
      `${what}: ${JSON.stringify(path)}: ${describeIoError(err)}`,
    );
  }
  throw new ManifestError(
    `${what}: ${
      JSON.stringify(path)
    } leads outside the manifest's directory through a symbolic link (to ${real})`,
  );
}

/** Whether `path` is outside `dir` (both absolute, normalised). */
function _leaves(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/** Most links followed in one path, as Linux's ELOOP limit. */
const MAX_LINKS = 40;

/**
 * `path` (absolute) with every symbolic link in it followed, as far as it
 * exists: a missing tail is kept as written, and a link whose target does
 * not exist yet is followed to where it points.
 */
function _followLinks(path: string, links = { left: MAX_LINKS }): string {
  try {
    return Deno.realPathSync(path);
  } catch (err) {
    // Not a missing part (or a dangling link): a path that cannot be
    // looked up at all is an error of its own.
    if (
      !(err instanceof Deno.errors.NotFound) &&
      !(err instanceof Deno.errors.NotADirectory)
    ) throw err;
  }
  const parent = dirname(path);
  if (parent === path) return path;
  const here = join(_followLinks(parent, links), basename(path));
  let link: string;
  try {
    if (!Deno.lstatSync(here).isSymlink) return here;
    link = Deno.readLinkSync(here);
  } catch {
    return here;
  }
  if (--links.left < 0) throw new Error("too many levels of symbolic links");
  return _followLinks(resolve(dirname(here), link), links);
}

function inside(dir: string, path: string, file: string, field: string) {
  return resolveInside(dir, path, `${file}: field "${field}"`);
}

/** Line and column (1-based) of a UTF-16 offset in `text`. */
function lineCol(text: string, at: number): string {
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

/** Largest manifest file: a document of params plus room for the rest. */
const MAX_MANIFEST_BYTES = 2 * MAX_DOCUMENT_BYTES;

/**
 * Validates a parsed manifest. Every problem is reported, one per line, as
 * `<file>: field "<path>": <what was expected>`.
 *
 * @throws {ManifestError}
 */
export function validateManifest(
  value: unknown,
  options: { path: string },
): ResolvedManifest {
  const file = resolve(options.path);
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const where = issue.code === "unrecognized_keys"
        ? formatPath([...issue.path, issue.keys[0]])
        : formatPath(issue.path);
      const what = issue.code === "unrecognized_keys"
        ? "unknown field"
        : issue.message;
      return `${file}: ${where ? `field "${where}"` : "manifest"}: ${what}`;
    });
    throw new ManifestError(lines.join("\n"));
  }
  const m = parsed.data;
  const dir = dirname(file);
  const limits = limitsOf(m.limits ?? {});
  const params = [
    ["params", m.params],
    ...(m.children ?? []).map((c, i) => [`children[${i}].params`, c.params]),
  ] as const;
  for (const [field, value] of params) {
    if (value === undefined) continue;
    const problem = checkDocument(JSON.stringify(value));
    if (problem) {
      throw new ManifestError(`${file}: field "${field}": ${problem.message}`);
    }
  }
  const http = m.grants?.http ? httpGrant(m.grants.http, file) : null;
  if ((m.children ?? []).length > limits.children) {
    throw new ManifestError(
      `${file}: field "children": ${
        m.children!.length
      } children, over limits.children = ${limits.children}`,
    );
  }
  return {
    path: file,
    manifest: m,
    name: m.name,
    component: inside(dir, m.component, file, "component"),
    params: m.params ?? null,
    node: m.node ?? null,
    chainDir: inside(dir, m.chain?.dir ?? "chains", file, "chain.dir"),
    fsync: (m.chain?.fsync ?? DEFAULTS.fsync) as ResolvedManifest["fsync"],
    checkpoint: m.chain?.checkpoint
      ? {
        key: inside(dir, m.chain.checkpoint.key, file, "chain.checkpoint.key"),
        every: m.chain.checkpoint.every,
      }
      : null,
    limits,
    http,
    supervision: {
      strategy: m.supervision?.strategy ?? DEFAULTS.strategy,
      restart: m.supervision?.restart ?? DEFAULTS.restart,
      restartFrom: m.supervision?.restart_from ?? "last-state",
      maxRestarts: m.supervision?.max_restarts ?? DEFAULTS.maxRestarts,
      periodMs: m.supervision?.period_ms ?? DEFAULTS.periodMs,
    },
    children: (m.children ?? []).map((c, i) => ({
      manifest: inside(dir, c.manifest, file, `children[${i}].manifest`),
      params: c.params,
    })),
  };
}

/** A manifest's `grants.http`, checked, with defaults filled in. */
function httpGrant(
  given: NonNullable<NonNullable<Manifest["grants"]>["http"]>,
  file: string,
): HttpGrant {
  const origins = given.origins.map((text, i) => {
    const o = normalizeOrigin(text);
    if ("err" in o) {
      throw new ManifestError(
        `${file}: field "grants.http.origins[${i}]": ${o.err}`,
      );
    }
    return o.origin;
  });
  return {
    origins: [...new Set(origins)],
    methods: given.methods ?? ["GET"],
    maxRequestBytes: given.max_request_bytes ??
      B.maxRequestBytes.default,
    maxResponseBytes: given.max_response_bytes ??
      B.maxResponseBytes.default,
    timeoutMs: given.timeout_ms ?? B.timeoutMs.default,
    secretHeaders: (given.secret_headers ?? []).map((h) => ({
      header: h.header.toLowerCase(),
      env: h.env,
      prefix: h.prefix ?? "",
    })),
  };
}

/**
 * The HTTP grants of a manifest and of the children it starts, all the
 * way down (each manifest once): what the run's network permission must
 * cover before any actor starts.
 *
 * @throws {ManifestError} when a child manifest is not valid.
 */
export function grantsInTree(root: ResolvedManifest): HttpGrant[] {
  const grants: HttpGrant[] = [];
  const seen = new Set<string>();
  const walk = (m: ResolvedManifest) => {
    if (seen.has(m.path)) return;
    seen.add(m.path);
    if (m.http) grants.push(m.http);
    for (const child of m.children) walk(loadManifestSync(child.manifest));
  };
  walk(root);
  return grants;
}

/**
 * Reads, parses and validates a manifest file; the promise rejects with a
 * {@linkcode ManifestError}. (The reading is synchronous: a manifest is
 * small, and a spawn reads one.)
 */
export function loadManifest(path: string): Promise<ResolvedManifest> {
  try {
    return Promise.resolve(loadManifestSync(path));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Reads, parses and validates a manifest file.
 *
 * @throws {ManifestError}
 */
export function loadManifestSync(path: string): ResolvedManifest {
  let text: string;
  try {
    text = readSmallFile(path, MAX_MANIFEST_BYTES);
  } catch (err) {
    throw new ManifestError(`${path}: cannot read: ${describeIoError(err)}`);
  }
  // The manifest is recorded whole in actor.start: it passes the same gate
  // as every other recorded document, before anything is parsed.
  const problem = checkDocument(text, { maxBytes: MAX_MANIFEST_BYTES });
  if (problem && !problem.message.startsWith("is not valid JSON")) {
    const where = problem.at === undefined
      ? ""
      : `:${lineCol(text, problem.at)}`;
    throw new ManifestError(`${path}${where}: manifest ${problem.message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(
      `${path}: not valid JSON: ${(err as Error).message}`,
    );
  }
  return validateManifest(value, { path });
}

/**
 * Reads a text file of at most `maxBytes`, refusing anything that is not a
 * regular file (a FIFO, a device such as /dev/zero) without reading it.
 *
 * @throws {Error} naming what is wrong.
 */
export function readSmallFile(path: string, maxBytes: number): string {
  return new TextDecoder().decode(readRegularFileSync(path, maxBytes));
}
