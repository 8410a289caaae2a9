// Copyright the Theater authors. MIT license.
/**
 * HTTP grants (`grants.http` in a manifest): which origins, methods and
 * sizes an actor's `theater:actor/http` calls may use, and the secret
 * headers the host adds. Pure checks; the fetch itself runs in the gate
 * worker (gate.ts), whose Deno permissions allow only the granted hosts.
 *
 * @module
 */

/** A header the host adds to every request from an environment variable. */
export interface SecretHeader {
  /** The header name, lowercase. */
  header: string;
  /** The environment variable holding the value. */
  env: string;
  /** Text put before the value, such as `Bearer `. */
  prefix: string;
}

/** What an actor may do over HTTP, defaults filled in. */
export interface HttpGrant {
  /** Allowed origins, normalised: `scheme://host:port`. */
  origins: string[];
  /** Allowed methods, uppercase. */
  methods: string[];
  /** Largest request body, in bytes. */
  maxRequestBytes: number;
  /** Largest response body, in bytes. */
  maxResponseBytes: number;
  /** Longest one request may take, redirects included, in ms. */
  timeoutMs: number;
  /** Headers the host adds; the actor never sees their values. */
  secretHeaders: SecretHeader[];
}

/** Methods a grant may name. */
export const HTTP_METHODS: readonly string[] = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
];

/** Defaults and bounds of the sizes and time of a grant. */
export const HTTP_GRANT_BOUNDS = {
  // A request is recorded whole, in base64: 8 MiB fits a chain line.
  maxRequestBytes: { default: 64 * 1024, max: 8 * 1024 * 1024 },
  maxResponseBytes: { default: 1024 * 1024, max: 64 * 1024 * 1024 },
  timeoutMs: { default: 10_000, max: 600_000 },
} as const;

/** Most redirects one request follows. */
export const MAX_REDIRECTS = 5;

/**
 * The origin of a URL as grants spell it (`http://host:port`, the port
 * always written), or an error message.
 */
export function urlOrigin(url: string): { origin: string } | { err: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { err: `not an absolute URL: ${JSON.stringify(url)}` };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    return { err: `scheme ${u.protocol} is not http: or https:` };
  }
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  return { origin: `${u.protocol}//${u.hostname}:${port}` };
}

/**
 * Normalises an origin as written in a manifest; an error message when it
 * has more than scheme, host and port.
 */
export function normalizeOrigin(text: string): { origin: string } | {
  err: string;
} {
  const o = urlOrigin(text);
  if ("err" in o) return o;
  const u = new URL(text);
  if (u.username || u.password) return { err: "must not hold a user name" };
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash) {
    return { err: "must be scheme://host[:port] only, with no path" };
  }
  return o;
}

/**
 * The `--allow-net` entry of an origin (`host:port`), as Deno's
 * permissions take it.
 */
export function netHost(origin: string): string {
  const u = new URL(origin);
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

/** Why a request (or a redirect to `url`) is outside the grant, or null. */
export function refusal(
  grant: HttpGrant,
  request: { method: string; url: string; bodyBytes: number },
): string | null {
  const o = urlOrigin(request.url);
  if ("err" in o) return o.err;
  if (!grant.origins.includes(o.origin)) {
    return `origin ${o.origin} is not granted (granted: ${
      grant.origins.join(", ")
    })`;
  }
  if (!grant.methods.includes(request.method)) {
    return `method ${request.method} is not granted (granted: ${
      grant.methods.join(", ")
    })`;
  }
  if (request.bodyBytes > grant.maxRequestBytes) {
    return `request body of ${request.bodyBytes} bytes is over the grant's ${grant.maxRequestBytes} (max_request_bytes)`;
  }
  return null;
}

/** Every `--allow-net` entry the grants need, sorted, without repeats. */
export function netHosts(grants: Iterable<HttpGrant>): string[] {
  const hosts = new Set<string>();
  for (const g of grants) for (const o of g.origins) hosts.add(netHost(o));
  return [...hosts].sort();
}
