// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import {
  type ChainEvent,
  eventLine,
  type Json,
  sealEvent,
} from "../chain/mod.ts";
import { checkOneWriter, type WriterProblem } from "./one_writer.ts";

type Spec = { type: ChainEvent["type"]; data: Record<string, Json> };

const START: Spec[] = [
  {
    type: "actor.start",
    data: { component: "0".repeat(64), link: null, manifest: {}, params: 0 },
  },
  { type: "actor.init", data: { state: { count: 0 } } },
];
const inc = (count: number): Spec[] => [
  { type: "message.in", data: { from: "external", link: null, msg: "inc" } },
  {
    type: "handle.ok",
    data: { state: { count }, reply: { count } },
  },
];
const RESUME: Spec[] = [{
  type: "actor.resume",
  data: { component: "0".repeat(64), cut: null, manifest: {}, params: 0 },
}];

/**
 * A chain of `steps` for actor "pong", going on from `from` (a fork when
 * it is not the last event): each step's lines, sealed.
 */
function chain(
  steps: Spec[][],
  from: ChainEvent | null = null,
  ts = 1,
): string[][] {
  let head = from;
  return steps.map((step) =>
    step.map((s) => {
      const event = sealEvent({
        v: s.type === "actor.resume" ? 2 : 1,
        seq: head ? head.seq + 1 : 0,
        actor: "pong",
        parent: head?.hash ?? null,
        ts: ts++,
        type: s.type,
        data: s.data,
      });
      head = event;
      return eventLine(event);
    })
  );
}

const last = (steps: string[][]): ChainEvent =>
  JSON.parse(steps.at(-1)!.at(-1)!);
const messages = (steps: string[][]) => steps.map((s) => s.join("\n"));
const file = (steps: string[][]) => steps.flat().map((l) => l + "\n").join("");
const kinds = (problems: WriterProblem[]) => problems.map((p) => p.kind);

Deno.test("checkOneWriter: one linear chain of whole steps with every acknowledged reply at its seq is fine", () => {
  const steps = chain([START, inc(1), inc(2), RESUME, inc(3)]);
  assert.deepEqual(
    checkOneWriter({
      actor: "pong",
      messages: messages(steps),
      chain: file(steps),
      acked: [{ seq: 3, reply: { count: 1 } }, {
        seq: 8,
        reply: { count: 3 },
      }],
    }),
    [],
  );
  // A catch-up message holds several whole steps.
  assert.deepEqual(
    checkOneWriter({
      actor: "pong",
      messages: [
        steps.slice(0, 3).flat().join("\n"),
        ...messages(steps.slice(3)),
      ],
    }),
    [],
  );
});

Deno.test("checkOneWriter: a second writer's step at a seq already taken is a fork (the repeated seq of issue 25)", () => {
  const mine = chain([START, inc(1), inc(2)]);
  // Resumed from a copy pulled one step behind: its resume takes seq 5,
  // which the first writer's last step already holds.
  const theirs = chain([RESUME, inc(2)], last(mine.slice(0, 2)), 100);
  const stream = [...mine, ...theirs];
  const problems = checkOneWriter({
    actor: "pong",
    messages: messages(stream),
    chain: file(stream),
    acked: [{ seq: 6, reply: { count: 2 } }],
  });
  assert.deepEqual(kinds(problems), ["fork"]);
  assert.match(problems[0].message, /a second event 4 after event 5/);
  assert.equal(problems[0].at, 4);
  // The same fork in the pulled chain alone.
  assert.deepEqual(
    kinds(checkOneWriter({ actor: "pong", chain: file(stream) })),
    ["fork"],
  );
});

Deno.test("checkOneWriter: the same step published twice is a duplicate", () => {
  const steps = chain([START, inc(1), inc(2)]);
  const problems = checkOneWriter({
    actor: "pong",
    messages: messages([...steps, steps[2]]),
  });
  assert.deepEqual(kinds(problems), ["duplicate", "duplicate"]);
  assert.match(problems[0].message, /event 4 again \(first on line 5\)/);
});

Deno.test("checkOneWriter: a missing event is a gap, a wrong parent is named", () => {
  const steps = chain([START, inc(1), inc(2)]);
  const gap = [steps[0], steps[1], [steps[2][1]]];
  assert.deepEqual(
    kinds(checkOneWriter({ actor: "pong", chain: file(gap) })),
    ["gap"],
  );
  const other = chain([START, inc(1)], null, 50);
  // Seq 4 sealed onto another chain's event 3: right seq, wrong parent.
  const stray = chain([inc(2)], last(other));
  assert.deepEqual(
    kinds(
      checkOneWriter({
        actor: "pong",
        chain: file([...steps.slice(0, 2), ...stray]),
      }),
    ),
    ["parent"],
  );
});

Deno.test("checkOneWriter: a stream message that is not a whole step is a half step", () => {
  const steps = chain([START, inc(1), inc(2)]);
  // inc(1) split over two messages: its input alone, then its outcome.
  const split = [
    steps[0].join("\n"),
    steps[1][0],
    steps[1][1],
    steps[2].join("\n"),
  ];
  const problems = checkOneWriter({ actor: "pong", messages: split });
  assert.deepEqual(kinds(problems), ["half-step", "half-step"]);
  assert.match(problems[0].message, /message 2 ends with message\.in/);
  assert.match(problems[1].message, /message 3 begins with handle\.ok/);
});

Deno.test("checkOneWriter: an acknowledged reply must be the one recorded at its seq, once", () => {
  const steps = chain([START, inc(1), inc(2)]);
  const problems = checkOneWriter({
    actor: "pong",
    messages: messages(steps),
    acked: [
      { seq: 3, reply: { count: 7 } },
      { seq: 5, reply: { count: 2 } },
      { seq: 5, reply: { count: 2 } },
      { seq: 9, reply: { count: 3 } },
      { seq: 4, reply: { count: 9 } },
    ],
  });
  assert.deepEqual(kinds(problems), [
    "reply-differs",
    "reply-twice",
    "reply-missing",
    "reply-missing",
  ]);
  assert.match(
    problems[0].message,
    /at seq 3 was \{"count":7\}, the chain records \{"count":1\}/,
  );
  assert.match(
    problems[2].message,
    /seq 9 is not in the chain \(no such event\)/,
  );
  assert.match(problems[3].message, /event 4 is message\.in/);
});

Deno.test("checkOneWriter: the pulled chain must be the stream's lines; a bad line is named", () => {
  const steps = chain([START, inc(1), inc(2)]);
  assert.deepEqual(
    kinds(checkOneWriter({
      actor: "pong",
      messages: messages(steps),
      chain: file(steps.slice(0, 2)),
    })),
    ["differs"],
  );
  const tampered = file(steps).replace('"count":2}', '"count":7}');
  assert.deepEqual(
    kinds(checkOneWriter({ actor: "pong", chain: tampered })),
    ["bad-line"],
  );
  assert.deepEqual(
    kinds(checkOneWriter({ actor: "ping", chain: file(steps) })).slice(0, 1),
    ["bad-line"],
  );
});
