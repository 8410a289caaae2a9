// Copyright the Theater authors. MIT license.
/**
 * `theater build`: type-check a TypeScript actor, bundle it with the SDK,
 * and turn it into a component with componentize-qjs (docs/sdk.md).
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { sha256Hex } from "../chain/mod.ts";
import { loadComponent } from "../runtime/mod.ts";

/** The componentize-qjs version builds use (pinned in deno.json). */
export const COMPONENTIZE_QJS = "0.4.5";

const WIT = new URL("../wit/theater.wit", import.meta.url);
const OWN_SDK = new URL("./mod.ts", import.meta.url);
const STAMP = ".theater-build.json";
const ENTRY = ".theater_entry.ts";

/** A build that failed; the message names file and line where it can. */
export class BuildError extends Error {
  override name = "BuildError";
}

/** What a build produced. */
export interface BuildResult {
  /** The component written. */
  path: string;
  size: number;
  sha256: string;
  /** True when the sources were unchanged and nothing was rebuilt. */
  cached: boolean;
  /** The world the component targets. */
  world:
    | "actor-world"
    | "supervisor-world"
    | "http-actor-world"
    | "http-supervisor-world";
  ms: number;
}

/** The `deno` to run for check and bundle: this one, or the one on PATH. */
function denoCommand(): string {
  return /^deno(\.exe)?$/.test(basename(Deno.execPath()))
    ? Deno.execPath()
    : "deno";
}

async function deno(args: string[], cwd: string) {
  try {
    const output = await new Deno.Command(denoCommand(), {
      args,
      cwd,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const decoder = new TextDecoder();
    return {
      success: output.success,
      stdout: decoder.decode(output.stdout),
      stderr: stripVTControlCharacters(decoder.decode(output.stderr)),
    };
  } catch (err) {
    throw new BuildError(
      `cannot run '${denoCommand()} ${args[0]}': ${(err as Error).message} ` +
        "(theater build needs the deno CLI: npx -y deno@2.9.6)",
    );
  }
}

/** Type errors and parse errors as `file:line:col: message` lines. */
function diagnostics(stderr: string, dir: string): string {
  const lines: string[] = [];
  // The message, then the lines that explain it (TypeScript's elaboration:
  // "Types of property 'count' are incompatible", ...), then the code and
  // its underline, then "at file:line:col".
  let pending: string[] | null = null;
  const plain = stripVTControlCharacters(stderr);
  for (const raw of plain.split("\n")) {
    const line = raw.trim();
    const error = line.match(/^(TS\d+ )?\[ERROR\]: (.*)$/) ??
      line.match(/^error: (.*)$/);
    // Deno's closing summary and its backtrace add nothing.
    if (/^Stack backtrace:/.test(line)) break;
    if (error && /^Type checking failed\.?$/.test(error[error.length - 1])) {
      pending = null;
      continue;
    }
    if (error) {
      pending = [error[error.length - 1]];
      continue;
    }
    const at = line.match(/(?:at |^)(file:\/\/\S+?):(\d+):(\d+)/);
    if (at && pending !== null) {
      // Drop the quoted code and its underline.
      if (/^~+$/.test(pending.at(-1) ?? "")) pending.splice(-2, 2);
      const file = new URL(at[1]).pathname;
      const shown = file.startsWith(dir) ? file.slice(dir.length + 1) : file;
      lines.push(`${shown}:${at[2]}:${at[3]}: ${pending.join("\n  ")}`);
      pending = null;
    } else if (pending !== null && line !== "") {
      pending.push(line);
    }
  }
  if (pending !== null) lines.push(pending.join("\n  "));
  return lines.length ? lines.join("\n") : stderr.trim();
}

async function inputsHash(
  dir: string,
  world: string,
  sdk: URL,
): Promise<string> {
  const parts: string[] = [
    COMPONENTIZE_QJS,
    world,
    await Deno.readTextFile(WIT),
    await Deno.readTextFile(sdk),
  ];
  const names = (await Array.fromAsync(Deno.readDir(dir)))
    .filter((e) =>
      e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") &&
      e.name !== ENTRY
    )
    .map((e) => e.name).sort();
  for (const name of names) {
    parts.push(name, await Deno.readTextFile(join(dir, name)));
  }
  parts.push(await Deno.readTextFile(join(dir, "manifest.json")));
  return sha256Hex(JSON.stringify(parts));
}

/**
 * Builds the actor in `dir` (`actor.ts`, `theater_sdk.ts`,
 * `manifest.json`) into the component its manifest names. Unchanged
 * sources are a cache hit unless `force`.
 *
 * @throws {BuildError} with the location of type and syntax errors.
 */
export async function buildActor(
  dir: string,
  options: { force?: boolean } = {},
): Promise<BuildResult> {
  const started = performance.now();
  dir = resolve(dir);
  let manifest: { name?: unknown; component?: unknown; grants?: unknown };
  try {
    manifest = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
  } catch (err) {
    throw new BuildError(
      `${join(dir, "manifest.json")}: ${(err as Error).message}`,
    );
  }
  if (typeof manifest.component !== "string") {
    throw new BuildError(
      `${join(dir, "manifest.json")}: field "component" must be a string`,
    );
  }
  const source = await Deno.readTextFile(join(dir, "actor.ts")).catch(() => {
    throw new BuildError(`${join(dir, "actor.ts")}: cannot read`);
  });
  // HTTP is imported only when the manifest grants it: a component that
  // imports it is refused without a grant.
  const networked = typeof manifest.grants === "object" &&
    manifest.grants !== null && "http" in manifest.grants;
  const world = `${networked ? "http-" : ""}${
    /\bonChildEvent\b/.test(source) ? "supervisor-world" : "actor-world"
  }` as BuildResult["world"];
  const out = resolve(dir, manifest.component);
  // A project made by `theater new` carries its own copy of the SDK; one
  // inside this repository (the examples) uses sdk/mod.ts itself.
  const local = join(dir, "theater_sdk.ts");
  const sdk = await Deno.stat(local).then(
    () => new URL(`file://${local}`),
    () => OWN_SDK,
  );
  const inputs = await inputsHash(dir, world, sdk);
  const stamp = await Deno.readTextFile(join(dir, STAMP))
    .then((t) => JSON.parse(t)).catch(() => null);
  if (!options.force && stamp?.inputs === inputs) {
    const bytes = await Deno.readFile(out).catch(() => null);
    if (bytes && sha256Hex(bytes) === stamp.sha256) {
      return {
        path: out,
        size: bytes.length,
        sha256: stamp.sha256,
        cached: true,
        world,
        ms: performance.now() - started,
      };
    }
  }
  const check = await deno(["check", "--quiet", "actor.ts"], dir);
  if (!check.success) throw new BuildError(diagnostics(check.stderr, dir));
  await Deno.writeTextFile(
    join(dir, ENTRY),
    `import definition from "./actor.ts";
import { bindActor, type RawImports } from "${sdk.href}";
(globalThis as unknown as { __theater: (i: RawImports) => unknown })
  .__theater = (imports: RawImports) => bindActor(definition, imports);
`,
  );
  let bundle;
  try {
    bundle = await deno(["bundle", "--quiet", "--format", "esm", ENTRY], dir);
  } finally {
    await Deno.remove(join(dir, ENTRY)).catch(() => {});
  }
  if (!bundle.success) throw new BuildError(diagnostics(bundle.stderr, dir));
  const jsSource = [
    bundle.stdout,
    `import runtime from "theater:actor/runtime@0.2.0";`,
    `import message from "theater:actor/message@0.2.0";`,
    `import supervisor from "theater:actor/supervisor@0.2.0";`,
    `import timers from "theater:actor/timers@0.2.0";`,
    `import store from "theater:actor/store@0.2.0";`,
    networked ? `import http from "theater:actor/http@0.2.0";` : "",
    `const bound = globalThis.__theater({ runtime, message, supervisor, timers, store${
      networked ? ", http" : ""
    } });`,
    `export const actor = bound.actor;`,
    world.endsWith("supervisor-world")
      ? `export const supervised = bound.supervised;`
      : "",
  ].join("\n");
  const { componentize } = await import("componentize-qjs");
  let component: Uint8Array;
  try {
    const result = await componentize({
      witPath: new URL(WIT).pathname,
      world,
      jsSource,
      stubWasi: true,
      sync: true,
    });
    component = new Uint8Array(result.component);
  } catch (err) {
    throw new BuildError(`componentize-qjs: ${(err as Error).message}`);
  }
  await Deno.writeFile(out, component);
  const loaded = await loadComponent(out);
  await Deno.writeTextFile(
    join(dir, STAMP),
    JSON.stringify({ inputs, sha256: loaded.sha256 }, null, 2) + "\n",
  );
  return {
    path: out,
    size: component.length,
    sha256: loaded.sha256,
    cached: false,
    world,
    ms: performance.now() - started,
  };
}
