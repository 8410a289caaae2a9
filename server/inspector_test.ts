// Copyright the Theater authors. MIT license.
// The inspector's files as a browser gets them from `theater serve`: a
// policy that runs no inline script and refuses framing, and a page with
// nothing inline to run and nothing to load from elsewhere.
import assert from "node:assert/strict";
import { startServer } from "./mod.ts";
import { INSPECTOR_PATHS, inspectorPage } from "./inspector.ts";

const TOKEN = "ab".repeat(32);

/** The directives of a Content-Security-Policy header, by name. */
function directives(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of policy.split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), values);
  }
  return out;
}

Deno.test("inspector: every file is served without a token under a policy of no inline script and no framing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "theater_inspector_" });
  const server = await startServer({
    dir,
    token: TOKEN,
    port: 0,
    cacheDir: false,
    inspector: inspectorPage,
  });
  try {
    assert.deepEqual([...INSPECTOR_PATHS].sort(), [
      "/",
      "/inspector.css",
      "/inspector.js",
    ]);
    for (const path of INSPECTOR_PATHS) {
      const res = await fetch(server.url + path);
      await res.body?.cancel();
      assert.equal(res.status, 200, path);
      const csp = directives(res.headers.get("content-security-policy") ?? "");
      assert.deepEqual(csp.get("script-src"), ["'self'"], path);
      assert.deepEqual(csp.get("frame-ancestors"), ["'none'"], path);
      assert.deepEqual(csp.get("default-src"), ["'none'"], path);
      assert.deepEqual(csp.get("base-uri"), ["'none'"], path);
      for (const [name, values] of csp) {
        assert.ok(
          !values.some((v) => /unsafe|data:|blob:|\*/.test(v)),
          `${path}: ${name} ${values.join(" ")}`,
        );
      }
      assert.equal(res.headers.get("x-frame-options"), "DENY", path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    }
    const js = await fetch(server.url + "/inspector.js");
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.match(await js.text(), /getElementById/);
    const missing = await fetch(server.url + "/inspector.map");
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspector: the page holds no inline script or handler and loads only its own files", async () => {
  const html = await inspectorPage("/").text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.equal(scripts.length, 1);
  for (const [tag, attrs, body] of scripts) {
    assert.match(attrs, /\bsrc="\/inspector\.js"/, tag);
    assert.equal(body.trim(), "", `inline code in ${tag}`);
  }
  // Handlers in attributes and javascript: URLs are inline script too.
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
  assert.doesNotMatch(html, /javascript:/i);
  assert.doesNotMatch(html, /<style\b|\sstyle\s*=/i);
  // Offline: every file the page names is one of the server's own.
  const loads = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(loads.sort(), ["/inspector.css", "/inspector.js"]);
  for (const path of loads) assert.ok(INSPECTOR_PATHS.includes(path), path);
  // What the script writes into the page is set as text or built from
  // its own literals, and inline style (blocked by style-src) is not used.
  const js = await inspectorPage("/inspector.js").text();
  assert.doesNotMatch(js, /setAttribute\(\s*["']style|\beval\(|new Function/);
});
