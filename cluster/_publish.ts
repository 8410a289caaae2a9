// Copyright the Theater authors. MIT license.
// One step's publish to JetStream, safe to retry (docs/cluster.md): a
// publish whose ack timed out may still have been stored, so the retry
// carries the same expected-last-subject-sequence (a second writer is
// still refused) and the same message id, which JetStream's duplicate
// window recognises: a step stored by the attempt that timed out is
// acknowledged again, with its sequence, and is not stored twice.

/** What a JetStream publish is asked for (a subset of the client's options). */
export interface StepPublishOptions {
  /** The subject's last stream sequence this step goes after. */
  expect: { lastSubjectSequence: number };
  /** The step's id for JetStream's duplicate detection. */
  msgID: string;
}

/** A JetStream publish of one body: resolves with the ack. */
export type StepPublisher = (
  options: StepPublishOptions,
) => Promise<{ seq: number; duplicate?: boolean }>;

/** Attempts at a step whose ack times out (the first one included). */
export const PUBLISH_ATTEMPTS = 4;

/**
 * Publishes a step after stream sequence `expected`, retrying only a
 * publish that timed out (up to `attempts` in all); resolves with the
 * step's stream sequence. Any other failure (a wrong last sequence: another
 * writer) rejects at once, as does the last time-out.
 */
export async function publishStep(
  publish: StepPublisher,
  options: { expected: number; msgID: string; attempts?: number },
): Promise<number> {
  const attempts = options.attempts ?? PUBLISH_ATTEMPTS;
  for (let attempt = 1;; attempt++) {
    try {
      const ack = await publish({
        expect: { lastSubjectSequence: options.expected },
        msgID: options.msgID,
      });
      return ack.seq;
    } catch (err) {
      if ((err as Error)?.name !== "TimeoutError" || attempt >= attempts) {
        throw err;
      }
    }
  }
}
