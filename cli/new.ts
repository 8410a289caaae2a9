// Copyright the Theater authors. MIT license.
import { join, resolve } from "node:path";
import { type Template, TEMPLATES, templateSource } from "../sdk/templates.ts";
import { type Command, out, parse, UsageError } from "./_common.ts";

const HELP =
  `Usage: theater new <name> [--template basic|kv|supervisor|clock|fetcher] [--dir PATH]

Creates a directory (default ./<name>) with a TypeScript actor:
  actor.ts         the actor, written against the SDK
  theater_sdk.ts   the guest SDK (types, JSON glue, typed host calls)
  manifest.json    how to run it
  actor_test.ts    a test that replays the chain of the last run
  README.md        the commands
  .gitignore       chains, builds and keys stay out of git

Then: theater build <dir>; theater run <dir>/manifest.json --send ...

Options:
  --template T  basic (a counter, default), kv (a key-value store),
                supervisor (a supervisor and its workers, one component),
                clock (timers, a request and its response) or fetcher
                (HTTP under a grant, the store, a timer and a request)
  --dir PATH    where to create the project
  -h, --help    show this help

Exit status: 0 made; 2 bad usage, or the directory exists or cannot be
written.`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const SDK = new URL("../sdk/mod.ts", import.meta.url);

function manifest(name: string, template: Template): string {
  const body: Record<string, unknown> = {
    name,
    component: `./${name}.wasm`,
    params: template === "supervisor"
      ? { role: "supervisor" }
      : template === "fetcher"
      ? { url: "http://127.0.0.1:8787/" }
      : null,
    chain: { dir: "./chains", fsync: "batch" },
    limits: {
      handle_timeout_ms: template === "fetcher" ? 5000 : 1000,
      memory_mb: 64,
    },
  };
  if (template === "fetcher") {
    // The one origin it may reach; change both this and params.url.
    body.grants = {
      http: {
        origins: ["http://127.0.0.1:8787"],
        methods: ["GET"],
        timeout_ms: 3000,
      },
    };
  }
  if (template === "supervisor") {
    body.supervision = {
      strategy: "one-for-one",
      max_restarts: 3,
      period_ms: 10000,
    };
    body.children = [{ manifest: "./worker.json" }];
  }
  return JSON.stringify(body, null, 2) + "\n";
}

function workerManifest(name: string): string {
  return JSON.stringify(
    {
      name: "worker",
      component: `./${name}.wasm`,
      params: { role: "worker" },
      chain: { dir: "./chains", fsync: "batch" },
    },
    null,
    2,
  ) + "\n";
}

function test(name: string): string {
  return `// Replays the chain of the last \`theater run\` against the current build:
// if a change to actor.ts makes it compute anything else for the same
// inputs, this names the first event that differs. Set THEATER to the
// command that runs theater (default: "theater").
const here = new URL(".", import.meta.url).pathname;
const chain = \`\${here}chains/${name}.jsonl\`;
const recorded = await Deno.stat(chain).then(() => true, () => false);

Deno.test({
  name: "${name} reproduces its recorded run",
  ignore: !recorded,
  async fn() {
    const [cmd, ...args] = (Deno.env.get("THEATER") ?? "theater").split(" ");
    const { code, stdout, stderr } = await new Deno.Command(cmd, {
      args: [...args, "replay", chain, "--component", \`\${here}${name}.wasm\`],
    }).output();
    const text = new TextDecoder().decode(code === 0 ? stdout : stderr);
    if (code !== 0) throw new Error(text);
  },
});
`;
}

function readme(name: string, template: Template): string {
  return `# ${name}

A Theater actor in TypeScript (template \`${template}\`).

\`\`\`sh
theater build .                                   # type-check, bundle, componentize
theater run manifest.json --send '${
    template === "kv"
      ? '{"op":"put","key":"a","value":1}'
      : template === "supervisor"
      ? '{"op":"status"}'
      : template === "clock" || template === "fetcher"
      ? '"start"'
      : '"inc"'
  }'
theater verify chains                             # the record is intact
THEATER=theater deno test -A                      # replay the last run
\`\`\`

\`actor.ts\` is the actor; \`theater_sdk.ts\` gives it types and host calls
(\`log\`, \`now\`, \`random\`, \`send\`, \`spawn\`, ...). Throw an \`ActorError\`
to answer a message with an error.${
    template === "fetcher"
      ? `

The manifest grants HTTP \`GET\` to \`http://127.0.0.1:8787\` only
(\`grants.http\`); set \`params.url\` and the grant to your origin.
`
      : ""
  }
`;
}

/** `theater new`. */
export const newCommand: Command = {
  name: "new",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      template: { type: "string" },
      dir: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("new takes exactly one name");
    }
    const name = positionals[0];
    if (!NAME.test(name)) {
      throw new UsageError(
        `name ${
          JSON.stringify(name)
        } must be 1-64 letters, digits, '_' or '-', starting with a letter or digit`,
      );
    }
    const template = (values.template ?? "basic") as Template;
    if (!TEMPLATES.includes(template)) {
      throw new UsageError(
        `--template must be one of ${TEMPLATES.join(", ")}, got ${template}`,
      );
    }
    const dir = resolve((values.dir as string | undefined) ?? name);
    const existing = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
    if (existing.length > 0) {
      throw new UsageError(`${dir} exists and is not empty`);
    }
    await Deno.mkdir(dir, { recursive: true });
    const files: [string, string][] = [
      ["actor.ts", templateSource(template)],
      ["theater_sdk.ts", await Deno.readTextFile(SDK)],
      ["manifest.json", manifest(name, template)],
      ["actor_test.ts", test(name)],
      ["README.md", readme(name, template)],
    ];
    if (template === "supervisor") {
      files.push(["worker.json", workerManifest(name)]);
    }
    // What a run and a build leave behind is not source: chains are records
    // (kept by whoever audits them), keys are secrets.
    files.push([
      ".gitignore",
      "chains/\n*.wasm\n*.key\n.theater-build.json\nnode_modules/\n",
    ]);
    for (const [file, text] of files) {
      await Deno.writeTextFile(join(dir, file), text);
    }
    out(`created ${dir} (${template}): ${files.map(([f]) => f).join(", ")}`);
    out(`next: theater build ${dir}`);
    return 0;
  },
};
