// Copyright the Theater authors. MIT license.
/**
 * Cluster policy, pure: which node a root actor goes to, and when a node
 * counts as gone. The node (cluster/node.ts) does the I/O around them.
 *
 * @module
 */

/** A live node as placement sees it. */
export interface Candidate {
  /** Its name. */
  name: string;
  /** Actors running on it, as its last heartbeat said. */
  load: number;
}

/**
 * The node a root actor goes to: `requested` (the API's `node`), else the
 * manifest's `node`, else the live node with the fewest roots placed on
 * it, then the fewest actors, then the first by name. Roots placed count
 * at once, where a heartbeat's load may be half a second old. Returns
 * `{error}` naming the live nodes when the chosen one is not live, or
 * when none is.
 */
export function chooseNode(
  live: Candidate[],
  placed: { node: string }[],
  wanted: { requested?: string | null; manifest?: string | null } = {},
): { node: string } | { error: string } {
  const names = live.map((n) => n.name);
  const chosen = wanted.requested ?? wanted.manifest;
  if (chosen) {
    return names.includes(chosen) ? { node: chosen } : {
      error: `node ${chosen} is not in the cluster (live: ${
        names.join(", ") || "none"
      })`,
    };
  }
  const roots = new Map<string, number>();
  for (const p of placed) roots.set(p.node, (roots.get(p.node) ?? 0) + 1);
  const best =
    [...live].sort((a, b) =>
      (roots.get(a.name) ?? 0) - (roots.get(b.name) ?? 0) ||
      a.load - b.load || a.name.localeCompare(b.name)
    )[0];
  return best ? { node: best.name } : { error: "no node is in the cluster" };
}

/**
 * Whether another node's heartbeat still moves, by this node's own clock
 * (clocks of different hosts need not agree): a revision not seen before
 * counts as a beat now; the same revision for `deadAfterMs` or more, or
 * none, means the node is gone. `seen` is updated.
 */
export function beating(
  seen: Map<string, { revision: number; at: number }>,
  name: string,
  revision: number | null,
  now: number,
  deadAfterMs: number,
): boolean {
  if (revision === null) return false;
  const last = seen.get(name);
  if (!last || last.revision !== revision) {
    seen.set(name, { revision, at: now });
    return true;
  }
  return now - last.at < deadAfterMs;
}

/** What a node does about one placement at a beat ({@linkcode duty}). */
export type Duty = "claim" | "resume" | "hand-over" | "none";

/**
 * What this node does about a placement at a beat, given how it stands
 * here:
 *
 * - placed on another node that is gone: `claim` it (then resume it);
 * - placed on another node, but running here (this node was paused or
 *   cut off, and another claimed it): `hand-over`, stopping it here as a
 *   stopping run does, so that the claimer resumes it after that;
 * - placed here, not running here, and either never started by this
 *   process (a node restarted before the others saw it gone) or `lost`
 *   (given up after a refused write, or a resume that failed): `resume`
 *   it from the stream;
 * - otherwise `none` (a root stopped here on purpose stays stopped).
 */
export function duty(
  placement: { node: string },
  here: {
    /** This node's name. */
    name: string;
    /** Whether the placement's node beats, as this node sees it. */
    alive: boolean;
    /** Whether the root runs on this node now. */
    running: boolean;
    /** Whether this process started or resumed the root. */
    started: boolean;
    /** Whether the root was lost here (see above). */
    lost: boolean;
  },
): Duty {
  if (placement.node === here.name) {
    return !here.running && (!here.started || here.lost) ? "resume" : "none";
  }
  if (here.running) return "hand-over";
  return here.alive ? "none" : "claim";
}
