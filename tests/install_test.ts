// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { withTempDir } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function sh(
  script: string,
  options: { cwd: string; path: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["-c", script],
    cwd: options.cwd,
    env: { PATH: options.path, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code, stdout: d.decode(stdout), stderr: d.decode(stderr) };
}

Deno.test("install: a newcomer's path with the installed theater command, README's words", async () => {
  await withTempDir(async (dir) => {
    const bin = join(dir, "bin");
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["task", "install", "--dir", bin],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      install.code,
      0,
      new TextDecoder().decode(install.stderr),
    );
    assert.match(
      new TextDecoder().decode(install.stdout),
      /installed .*theater/,
    );
    // Only the launcher's directory and the system's: no deno on the PATH.
    const path = `${bin}:/usr/bin:/bin`;
    const r = await sh(
      [
        "theater new x",
        "cd x",
        "theater build",
        `theater run manifest.json --send '"inc"' --quiet`,
        "theater verify chains",
        "theater replay chains",
      ].join(" && "),
      { cwd: dir, path },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(
      r.stdout,
      /"reply":\{"count":1,"kind":"count"\}|"kind":"count"/,
    );
    assert.match(r.stdout, /same head/);
    // Commands other than build run without run or ffi permission.
    const launcher = await Deno.readTextFile(join(bin, "theater"));
    const lines = launcher.split("\n");
    assert.ok(
      lines.some((l) => l.includes("build)") && l.includes("--allow-ffi")),
    );
    assert.ok(
      lines.some((l) =>
        l.trimStart().startsWith("*)") && !l.includes("--allow-run") &&
        !l.includes("--allow-ffi")
      ),
    );
  });
});
