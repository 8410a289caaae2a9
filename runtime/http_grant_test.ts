// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import {
  type HttpGrant,
  netHost,
  netHosts,
  normalizeOrigin,
  refusal,
  urlOrigin,
} from "./http_grant.ts";

const GRANT: HttpGrant = {
  origins: ["http://127.0.0.1:8080", "https://api.example.com:443"],
  methods: ["GET", "POST"],
  maxRequestBytes: 10,
  maxResponseBytes: 100,
  timeoutMs: 1000,
  secretHeaders: [],
};

Deno.test("http grant: origins are normalised with their port, and nothing but an origin is accepted", () => {
  assert.deepEqual(normalizeOrigin("https://api.example.com"), {
    origin: "https://api.example.com:443",
  });
  assert.deepEqual(normalizeOrigin("http://127.0.0.1:8080/"), {
    origin: "http://127.0.0.1:8080",
  });
  for (
    const bad of [
      "http://127.0.0.1:8080/api",
      "http://u:p@host",
      "http://host/?q",
      "ftp://host",
      "file:///etc/passwd",
      "not a url",
    ]
  ) {
    assert.ok("err" in normalizeOrigin(bad), bad);
  }
  assert.equal(netHost("https://api.example.com:443"), "api.example.com:443");
  assert.deepEqual(netHosts([GRANT, GRANT]), [
    "127.0.0.1:8080",
    "api.example.com:443",
  ]);
});

Deno.test("http grant: a request is refused off its origins, methods or size", () => {
  const ok = { method: "GET", url: "http://127.0.0.1:8080/x", bodyBytes: 0 };
  assert.equal(refusal(GRANT, ok), null);
  assert.equal(
    refusal(GRANT, { ...ok, url: "https://api.example.com/v1?q=1" }),
    null,
  );
  assert.match(
    refusal(GRANT, { ...ok, url: "http://127.0.0.1:8081/x" })!,
    /origin http:\/\/127\.0\.0\.1:8081 is not granted/,
  );
  // Same host, other scheme: another origin.
  assert.match(
    refusal(GRANT, { ...ok, url: "https://127.0.0.1:8080/x" })!,
    /not granted/,
  );
  assert.match(
    refusal(GRANT, { ...ok, url: "http://localhost:8080/x" })!,
    /not granted/,
  );
  assert.match(refusal(GRANT, { ...ok, method: "PUT" })!, /method PUT/);
  assert.match(
    refusal(GRANT, { ...ok, bodyBytes: 11 })!,
    /over the grant's 10/,
  );
  assert.match(refusal(GRANT, { ...ok, url: "/relative" })!, /absolute URL/);
  assert.deepEqual(urlOrigin("HTTP://EXAMPLE.com/a"), {
    origin: "http://example.com:80",
  });
});
