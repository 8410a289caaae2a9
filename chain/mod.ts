// Copyright the Theater authors. MIT license.
/**
 * Theater hash chains: the event model, canonical hashing, the append-only
 * writer, a streaming reader and the verifier. The format is specified in
 * `docs/chain-format.md`.
 *
 * ```ts
 * import { ChainWriter, verifyChain } from "./mod.ts";
 *
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * const writer = await ChainWriter.open(path, { actor: "demo" });
 * await writer.append("actor.stop", { reason: "done" });
 * await writer.close();
 * console.log((await verifyChain(path)).ok); // true
 * ```
 *
 * @module
 */
export * from "./bytes.ts";
export * from "./blobs.ts";
export * from "./event.ts";
export * from "./canonical.ts";
export * from "./writer.ts";
export * from "./reader.ts";
export * from "./seek.ts";
export * from "./verify.ts";
export * from "./merkle.ts";
export * from "./checkpoint.ts";
export * from "./proofs.ts";
export * from "./files.ts";
export * from "./state.ts";
