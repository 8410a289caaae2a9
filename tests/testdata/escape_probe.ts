// Copyright the Theater authors. MIT license.
// Runs inside a worker started like an actor worker and tries every route
// out of the sandbox; posts what each attempt did.
const scope = self as unknown as { postMessage(message: unknown): void };

async function attempt(name: string, fn: () => unknown): Promise<string> {
  try {
    await fn();
    return `${name}: ALLOWED`;
  } catch (err) {
    return `${name}: ${(err as Error).name}`;
  }
}

scope.postMessage([
  await attempt("read", () => Deno.readTextFile("/etc/hostname")),
  await attempt("write", () => Deno.writeTextFile("/tmp/theater_escape", "x")),
  await attempt("net", () => Deno.connect({ hostname: "127.0.0.1", port: 9 })),
  await attempt("listen", () => Deno.listen({ port: 0 }).close()),
  await attempt("run", () => new Deno.Command("true").output()),
  await attempt("env", () => Deno.env.get("HOME")),
  await attempt("sys", () => Deno.hostname()),
  await attempt("ffi", () => Deno.dlopen("libc.so.6", {})),
  // Built at run time so the type checker does not load the file itself.
  await attempt(
    "import",
    () => import(["file://", "etc", "hostname"].join("/")),
  ),
]);
