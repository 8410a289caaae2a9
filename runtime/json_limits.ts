// Copyright the Theater authors. MIT license.
/**
 * The one gate for JSON documents that cross into the record (messages,
 * states, replies, params, manifests): size and depth are checked before
 * parsing, so a hostile document is refused with a clear reason instead of
 * exhausting memory or the stack; and a document must survive the chain's
 * canonical form unchanged: every number round-trips exactly (no `1e400`
 * turning into Infinity, no integer past 2^53 rounded) and every string is
 * well-formed UTF-16 (no lone surrogate).
 *
 * @module
 */
import type { Json } from "../chain/event.ts";

/** Largest JSON document an actor may receive or produce, in UTF-8 bytes. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** Deepest nesting of arrays and objects in such a document. */
export const MAX_DOCUMENT_DEPTH = 64;

const encoder = new TextEncoder();

/** What is wrong with a document, and the character offset where. */
export interface DocumentProblem {
  /** What is wrong, to follow the document's name. */
  message: string;
  /** UTF-16 offset in the text, when the problem has a place. */
  at?: number;
}

/** The decimal value of a JSON number literal as `digits`e`exponent`. */
function decimal(literal: string): string {
  let s = literal;
  let sign = "";
  if (s[0] === "-" || s[0] === "+") {
    sign = s[0] === "-" ? "-" : "";
    s = s.slice(1);
  }
  let exp = 0;
  const e = s.search(/[eE]/);
  if (e !== -1) {
    exp = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf(".");
  if (dot !== -1) {
    exp -= s.length - dot - 1;
    s = s.slice(0, dot) + s.slice(dot + 1);
  }
  s = s.replace(/^0+/, "");
  if (s === "") return "0";
  const trimmed = s.replace(/0+$/, "");
  exp += s.length - trimmed.length;
  return `${sign}${trimmed}e${exp}`;
}

/** Why a number literal does not survive a parse and re-serialization. */
function numberProblem(literal: string): string | null {
  // Without an exponent and with at most 15 digits, a decimal survives a
  // double and back (15 significant digits always do): the common case,
  // decided without parsing.
  let digits = 0;
  for (let i = 0; i < literal.length; i++) {
    const c = literal.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 101 || c === 69) {
      digits = 16;
      break;
    }
  }
  if (digits <= 15) return null;
  const value = Number(literal);
  if (!Number.isFinite(value)) {
    return `number ${
      literal.slice(0, 40)
    } is out of range (it would become ${value})`;
  }
  if (decimal(literal) !== decimal(String(value))) {
    return `number ${
      literal.slice(0, 40)
    } cannot be kept exactly (it would become ${value})`;
  }
  return null;
}

function isNumberChar(c: number): boolean {
  // 0-9 + - . e E
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 ||
    c === 101 || c === 69;
}

/**
 * One pass over the text: nesting depth, number literals and surrogates.
 * Syntax errors are left to `JSON.parse`.
 */
function scan(text: string): DocumentProblem | null {
  let depth = 0;
  let inString = false;
  // Offset of a high surrogate still waiting for its low half, or -1.
  let high = -1;
  const unit = (code: number, at: number): DocumentProblem | null => {
    if (high !== -1) {
      if (code >= 0xdc00 && code <= 0xdfff) {
        high = -1;
        return null;
      }
      return { message: "string has a lone surrogate", at: high };
    }
    if (code >= 0xd800 && code <= 0xdbff) high = at;
    else if (code >= 0xdc00 && code <= 0xdfff) {
      return { message: "string has a lone surrogate", at };
    }
    return null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 34) {
        if (high !== -1) {
          return { message: "string has a lone surrogate", at: high };
        }
        inString = false;
        continue;
      }
      let code = c;
      const at = i;
      if (c === 92) {
        if (text.charCodeAt(i + 1) === 117) {
          code = parseInt(text.slice(i + 2, i + 6), 16);
          i += 5;
          if (Number.isNaN(code)) continue;
        } else {
          i++;
          code = 0;
        }
      }
      if (high !== -1 || (code >= 0xd800 && code <= 0xdfff)) {
        const problem = unit(code, at);
        if (problem) return problem;
      }
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > MAX_DOCUMENT_DEPTH) {
        return {
          message:
            `is nested more than ${MAX_DOCUMENT_DEPTH} deep, over the limit`,
          at: i,
        };
      }
    } else if (c === 93 || c === 125) depth--;
    else if (c === 45 || (c >= 48 && c <= 57)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const problem = numberProblem(text.slice(i, end));
      if (problem) return { message: problem, at: i };
      i = end - 1;
    }
  }
  return null;
}

/**
 * Why a JSON document may not cross into the record, with where, or null
 * when it may: over {@linkcode MAX_DOCUMENT_BYTES}, nested deeper than
 * {@linkcode MAX_DOCUMENT_DEPTH}, not JSON, a number that would not
 * round-trip exactly, or a lone surrogate.
 */
export function checkDocument(
  text: string,
  options: { maxBytes?: number } = {},
): DocumentProblem | null {
  const checked = inspect(text, options.maxBytes ?? MAX_DOCUMENT_BYTES);
  return "problem" in checked ? checked.problem : null;
}

/** The gate and the parse in one: the parsed value, or what is wrong. */
function inspect(
  text: string,
  max: number,
): { value: Json } | { problem: DocumentProblem } {
  if (text.length > max / 3) {
    const bytes = encoder.encode(text).length;
    if (bytes > max) {
      return {
        problem: { message: `is ${bytes} bytes, over the limit of ${max}` },
      };
    }
  }
  const problem = scan(text);
  if (problem?.message.startsWith("is nested")) return { problem };
  let value: Json;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      problem: {
        message: `is not valid JSON: ${JSON.stringify(text.slice(0, 80))}`,
      },
    };
  }
  if (problem) {
    problem.message = `is not canonical JSON: ${problem.message}`;
    return { problem };
  }
  return { value };
}

/** A problem as one line: the message, and where when it has a place. */
function describe(problem: DocumentProblem): string {
  return problem.at === undefined
    ? problem.message
    : `${problem.message} (at character ${problem.at})`;
}

/**
 * Why a JSON document may not cross the actor boundary, or null when it
 * may (see {@linkcode checkDocument}).
 */
export function documentProblem(text: string): string | null {
  const problem = checkDocument(text);
  return problem ? describe(problem) : null;
}

/**
 * Parses a JSON document that crosses the actor boundary, within the
 * limits; `what` names it in the error.
 *
 * @throws {SyntaxError} naming what is wrong.
 */
export function parseDocument(text: string, what: string): Json {
  const checked = inspect(text, MAX_DOCUMENT_BYTES);
  if ("problem" in checked) {
    throw new SyntaxError(`${what} ${describe(checked.problem)}`);
  }
  return checked.value;
}
