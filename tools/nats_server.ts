// Copyright the Theater authors. MIT license.
/**
 * A real nats-server with JetStream for tests and benches: Debian's
 * `nats-server` (`.ci/run` installs it), started on a free loopback port
 * with its store in a folder of the caller's.
 *
 * @module
 */
import { waitFor } from "./wait.ts";

/** Where Debian's nats-server is (`$NATS_SERVER` overrides). */
export const NATS = Deno.env.get("NATS_SERVER") ?? "/usr/sbin/nats-server";
/** Whether nats-server is installed (CI installs it: .ci/run). */
export const hasNats = await Deno.stat(NATS).then(() => true, () => false);

/** Starts nats-server with JetStream on a free port; returns its URL. */
export async function natsServer(dir: string) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command(NATS, {
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  try {
    // Up once it takes connections; a deadline only bounds a hang.
    await waitFor(`nats-server to listen on ${port}`, async () => {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    }, { ended: child.status });
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited.
    }
    await child.status;
    throw new Error(`nats-server did not start: ${(e as Error).message}`);
  }
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}
