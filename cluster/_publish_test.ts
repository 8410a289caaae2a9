// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { publishStep, type StepPublishOptions } from "./_publish.ts";

class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * A stream of one subject as JetStream keeps it: a message id seen before
 * is a duplicate (acknowledged with the stored sequence, not stored again),
 * then the expected last subject sequence must match. `lose` says which
 * acks are lost after the message was stored (a time-out that happened).
 */
function fakeStream(lose: (attempt: number) => boolean) {
  const stored: { seq: number; body: string; id: string }[] = [];
  let seq = 0;
  let attempt = 0;
  const publish = (body: string) => (o: StepPublishOptions) => {
    attempt++;
    const dup = stored.find((m) => m.id === o.msgID);
    let ack: { seq: number; duplicate: boolean };
    if (dup) ack = { seq: dup.seq, duplicate: true };
    else {
      const last = stored.at(-1)?.seq ?? 0;
      if (o.expect.lastSubjectSequence !== last) {
        return Promise.reject(
          new Error(`wrong last sequence: ${last}`),
        );
      }
      stored.push({ seq: ++seq, body, id: o.msgID });
      ack = { seq, duplicate: false };
    }
    return lose(attempt)
      ? Promise.reject(new TimeoutError("timeout"))
      : Promise.resolve(ack);
  };
  return { stored, publish, attempts: () => attempt };
}

Deno.test("publishStep: a publish that timed out after it was stored is retried once more and not stored twice", async () => {
  const s = fakeStream((n) => n === 1);
  assert.equal(
    await publishStep(s.publish("step 1"), { expected: 0, msgID: "h1" }),
    1,
  );
  assert.equal(s.attempts(), 2);
  assert.deepEqual(s.stored.map((m) => m.body), ["step 1"]);
  // The next step goes on from the sequence the retry was given.
  assert.equal(
    await publishStep(s.publish("step 2"), { expected: 1, msgID: "h2" }),
    2,
  );
  assert.deepEqual(s.stored.map((m) => m.body), ["step 1", "step 2"]);
});

Deno.test("publishStep: retries keep the expectation, so a second writer is still refused", async () => {
  const s = fakeStream(() => false);
  await publishStep(s.publish("theirs"), { expected: 0, msgID: "t1" });
  await assert.rejects(
    () => publishStep(s.publish("mine"), { expected: 0, msgID: "m1" }),
    /wrong last sequence: 1/,
  );
  assert.equal(s.attempts(), 2, "a refusal is not retried");
  assert.deepEqual(s.stored.map((m) => m.body), ["theirs"]);
});

Deno.test("publishStep: a publish that keeps timing out fails after the last attempt", async () => {
  const s = fakeStream(() => true);
  await assert.rejects(
    () => publishStep(s.publish("x"), { expected: 0, msgID: "x", attempts: 3 }),
    TimeoutError,
  );
  assert.equal(s.attempts(), 3);
  // Stored once, by the first attempt; the others were duplicates.
  assert.equal(s.stored.length, 1);
});

Deno.test("publishStep: without the message id a retry after a stored time-out would be refused (why the id is sent)", async () => {
  const s = fakeStream((n) => n === 1);
  let n = 0;
  // A publisher that forgets the id: each attempt looks new to the stream.
  const forgetful = (o: StepPublishOptions) =>
    s.publish("step")({ ...o, msgID: `attempt-${++n}` });
  await assert.rejects(
    () => publishStep(forgetful, { expected: 0, msgID: "ignored" }),
    /wrong last sequence: 1/,
  );
});
