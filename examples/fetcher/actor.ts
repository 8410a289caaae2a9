// Copyright the Theater authors. MIT license.
/**
 * The `fetcher` actor: on a timer, fetches a JSON document from an origin
 * its manifest grants, keeps a summary of each fetch in its state and the
 * body in the run's blob store, and answers requests about them. It uses
 * every WIT 0.2.0 service: timers, HTTP under a grant, the store,
 * request/response and the sender. Built with `theater build
 * examples/fetcher`.
 */
import { ActorError, defineActor, type Json } from "../../sdk/mod.ts";

/** What the manifest's params say. */
interface Params {
  /** The document to fetch (its origin must be in `grants.http`). */
  url: string;
  /** How often, in ms (default 1000). */
  every_ms?: number;
  /** How many fetch summaries to keep (default 20). */
  keep?: number;
}

/** One fetch, summarised; the body itself is in the store. */
interface Fetch {
  at: number;
  status: number | null;
  /** SHA-256 of the body in the store, or null when the fetch failed. */
  body: string | null;
  bytes: number;
  /** Items in the document (its length if an array, else of its `items`). */
  items: number | null;
  error: string | null;
}

interface State {
  params: Params;
  timer: string | null;
  polls: number;
  fetches: Fetch[];
  /** The last answer this actor had to its own "summary" request. */
  checked: { from: string; reply: Json } | null;
}

type Message =
  | "start"
  | "stop"
  | "poll"
  | "summary"
  | { body: string }
  | { response: { id: string; from?: string; reply?: Json; error?: string } };

function summary(state: State): Json {
  const last = state.fetches.at(-1) ?? null;
  return {
    polls: state.polls,
    ok: state.fetches.filter((f) => f.error === null).length,
    failed: state.fetches.filter((f) => f.error !== null).length,
    last: last as unknown as Json,
  };
}

function countItems(doc: Json): number | null {
  if (Array.isArray(doc)) return doc.length;
  if (doc && typeof doc === "object" && Array.isArray(doc.items)) {
    return doc.items.length;
  }
  return null;
}

export default defineActor<State, Message, Json>({
  init: (params) => {
    const p = params as unknown as Params;
    if (!p || typeof p.url !== "string") {
      throw new ActorError('params must be {"url": "http://…"}');
    }
    return { params: p, timer: null, polls: 0, fetches: [], checked: null };
  },
  handle(state, msg, host) {
    if (msg === "start") {
      const timer = state.timer ??
        host.every(state.params.every_ms ?? 1000, "poll");
      return { state: { ...state, timer }, reply: "started" };
    }
    if (msg === "stop") {
      if (state.timer) host.cancel(state.timer);
      return { state: { ...state, timer: null }, reply: "stopped" };
    }
    if (msg === "poll") {
      const fetch: Fetch = {
        at: host.now(),
        status: null,
        body: null,
        bytes: 0,
        items: null,
        error: null,
      };
      try {
        const r = host.fetch(state.params.url, {
          headers: { accept: "application/json" },
        });
        fetch.status = r.status;
        fetch.bytes = r.body.length;
        // The body goes to the store; the state keeps its hash.
        fetch.body = host.put(r.body);
        try {
          fetch.items = countItems(r.json());
        } catch {
          fetch.error = "the body is not JSON";
        }
      } catch (e) {
        if (!(e instanceof ActorError)) throw e;
        fetch.error = e.message;
      }
      const keep = state.params.keep ?? 20;
      const next = {
        ...state,
        polls: state.polls + 1,
        fetches: [...state.fetches, fetch].slice(-keep),
      };
      // Ask itself for the summary, as another actor would: the answer
      // comes back as a later { response } message.
      host.request(host.selfId(), "summary", 1000);
      return { state: next };
    }
    if (msg === "summary") return { state, reply: summary(state) };
    if (typeof msg === "object" && "body" in msg) {
      const hash = msg.body === "latest"
        ? state.fetches.findLast((f) => f.body !== null)?.body ?? null
        : msg.body;
      return { state, reply: hash === null ? null : host.getText(hash) };
    }
    if (typeof msg === "object" && "response" in msg) {
      const r = msg.response;
      return {
        state: {
          ...state,
          checked: { from: host.sender(), reply: r.reply ?? r.error ?? null },
        },
      };
    }
    return { state };
  },
});
