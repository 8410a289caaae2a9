// Copyright the Theater authors. MIT license.
// A recorded run of the counter, kept as a regression test: if a change to
// counter.wat makes the component compute anything else for these inputs
// (a state, a reply, a host call argument), this test names the event.
import { assertReplays } from "../../runtime/mod.ts";

const here = new URL(".", import.meta.url).pathname;

Deno.test("the counter still reproduces its recorded run", async () => {
  await assertReplays(`${here}recorded/counter.jsonl`, { search: [here] });
});
