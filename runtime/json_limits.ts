// Copyright the Theater authors. MIT license.
/**
 * Limits on the JSON documents that cross the actor boundary (messages,
 * states, replies, params): they are checked before parsing, so a hostile
 * document is refused with a clear reason instead of exhausting memory or
 * the stack.
 *
 * @module
 */
import type { Json } from "../chain/event.ts";

/** Largest JSON document an actor may receive or produce, in UTF-8 bytes. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** Deepest nesting of arrays and objects in such a document. */
export const MAX_DOCUMENT_DEPTH = 64;

const encoder = new TextEncoder();

/** Nesting depth of a JSON text, counted without parsing it. */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/**
 * Why a JSON document may not cross the actor boundary, or null when it
 * may: over {@linkcode MAX_DOCUMENT_BYTES}, nested deeper than
 * {@linkcode MAX_DOCUMENT_DEPTH}, or not JSON.
 */
export function documentProblem(text: string): string | null {
  if (text.length > MAX_DOCUMENT_BYTES / 3) {
    const bytes = encoder.encode(text).length;
    if (bytes > MAX_DOCUMENT_BYTES) {
      return `is ${bytes} bytes, over the limit of ${MAX_DOCUMENT_BYTES}`;
    }
  }
  const depth = depthOf(text);
  if (depth > MAX_DOCUMENT_DEPTH) {
    return `is nested ${depth} deep, over the limit of ${MAX_DOCUMENT_DEPTH}`;
  }
  try {
    JSON.parse(text);
  } catch {
    return `is not valid JSON: ${JSON.stringify(text.slice(0, 80))}`;
  }
  return null;
}

/**
 * Parses a JSON document that crosses the actor boundary, within the
 * limits; `what` names it in the error.
 *
 * @throws {SyntaxError} naming what is wrong.
 */
export function parseDocument(text: string, what: string): Json {
  const problem = documentProblem(text);
  if (problem) throw new SyntaxError(`${what} ${problem}`);
  return JSON.parse(text);
}
