// Copyright the Theater authors. MIT license.
// The recorded run in recorded/ (a worker crash, its restart, a spawn) kept
// as a regression test: every chain of it must still replay.
import { assertReplays } from "../../runtime/mod.ts";

const here = new URL(".", import.meta.url).pathname;

for (
  const actor of ["supervisor", "supervisor.worker", "supervisor.worker-1"]
) {
  Deno.test(`${actor} still reproduces its recorded run`, async () => {
    await assertReplays(`${here}recorded/${actor}.jsonl`, { search: [here] });
  });
}
