// Copyright the Theater authors. MIT license.
/**
 * The inspector: a page, its script and its style sheet (no CDN, no build
 * step) served at `/`, `/inspector.js` and `/inspector.css` by `theater
 * serve`, under a policy that runs no script but that file and lets no
 * page frame it. It reads everything through the API with the
 * token from the URL fragment (`/#token=…`, never sent to the server):
 * the runs and actor trees with live status, an actor's timeline filtered
 * by type and updated live, time travel over its states with the diff
 * from the previous event, the messages between actors following the
 * recorded links, verification badges, replay, and sending a message.
 *
 * @module
 */

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Theater inspector</title>
<link rel="stylesheet" href="/inspector.css">
<script type="module" src="/inspector.js"></script>
</head>
<body>
<nav>
  <h2>Runs</h2>
  <div id="runs" aria-live="polite"></div>
  <p id="error" role="alert"></p>
</nav>
<main>
  <h2 id="title">Select an actor</h2>
  <div id="controls" hidden>
    <label>type <select id="filter"><option value="">all</option></select></label>
    <span id="verify" class="badge"></span>
    <button id="replay">Replay</button>
    <span id="replay-result"></span>
  </div>
  <table id="timeline"><tbody></tbody></table>
  <h2>Messages between actors</h2>
  <table id="sequence"><tbody></tbody></table>
</main>
<aside>
  <h2>Time travel</h2>
  <div id="travel" hidden>
    <input id="slider" type="range" min="0" max="0" value="0" aria-label="event">
    <div>
      <button id="prev" title="previous event (←)">◀</button>
      <span id="at"></span>
      <button id="next" title="next event (→)">▶</button>
    </div>
    <h2>Event</h2><pre id="event"></pre>
    <h2>State after it</h2><pre id="state"></pre>
    <h2>Diff from the event before</h2><pre id="diff" class="diff"></pre>
  </div>
  <h2>Send</h2>
  <form id="send">
    <input id="msg" placeholder='JSON, e.g. "inc"' size="30" aria-label="message">
    <button>Send</button>
  </form>
  <pre id="sent"></pre>
</aside>
</body>
</html>
`;

const STYLE =
  `body { font: 14px system-ui, sans-serif; margin: 0; display: grid;
  grid-template-columns: 260px 1fr 420px; height: 100vh; }
nav, main, aside { overflow: auto; padding: 8px 12px; border-right: 1px solid #ddd; }
h2 { font-size: 15px; margin: 10px 0 6px; }
ul { list-style: none; padding-left: 14px; margin: 0; }
li { margin: 2px 0; }
button { font: inherit; cursor: pointer; }
.run > b { cursor: pointer; }
.actor { cursor: pointer; }
.actor.selected { background: #def; }
.status { font-size: 11px; padding: 0 4px; border-radius: 3px; margin-left: 4px; }
.status.running { background: #cfc; } .status.restarting { background: #ffc; }
.status.stopped { background: #eee; } .status.failed { background: #fcc; }
.badge { font-size: 11px; padding: 1px 5px; border-radius: 3px; }
.badge.ok { background: #cfc; } .badge.bad { background: #fcc; }
table { border-collapse: collapse; width: 100%; }
td { padding: 1px 4px; vertical-align: top; font-family: ui-monospace, monospace; font-size: 12px; }
tr.event { cursor: pointer; } tr.event.current { background: #def; }
tr.event:hover { background: #f4f8ff; }
pre { background: #f7f7f7; padding: 6px; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
.diff .add { color: #060; } .diff .del { color: #a00; }
.link { color: #06c; cursor: pointer; text-decoration: underline; }
#error { color: #a00; }
input[type=range] { width: 100%; }
`;

const SCRIPT =
  `const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
const headers = { authorization: "Bearer " + token };
const $ = (id) => document.getElementById(id);
const view = { run: null, actor: null, events: [], at: 0, filter: "" };

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...headers, "content-type": "application/json" } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? res.statusText);
  return body;
}
function show(err) { $("error").textContent = err ? String(err.message ?? err) : ""; }
function text(v) { return JSON.stringify(v, null, 2); }
function brief(e) {
  const d = e.data ?? {};
  if (e.type === "message.in") return "from " + d.from + ": " + JSON.stringify(d.msg);
  if (e.type === "message.out") return "to " + d.to + ": " + JSON.stringify(d.msg);
  if (e.type === "host.call") return d.function + "(" + JSON.stringify(d.args).slice(1, -1) + ")";
  if (e.type === "host.calls") return d.calls.map((c) => c.function + "(" + JSON.stringify(c.args).slice(1, -1) + ")").join("; ");
  if (e.type === "handle.error") return d.error;
  if (e.type === "child.event") return d.child + " " + d.event + (d.reason ? ": " + d.reason : "");
  if (e.type === "actor.stop") return d.reason ?? "";
  return "";
}

let shown = "";
async function loadRuns() {
  try {
    const { runs } = await api("/api/runs");
    const key = JSON.stringify([runs, view.run, view.actor]);
    if (key === shown) return;
    shown = key;
    const root = $("runs");
    root.textContent = "";
    for (const run of runs) {
      const div = document.createElement("div");
      div.className = "run";
      div.dataset.run = run.id;
      const live = new Map(run.actors.map((a) => [a.id, a]));
      div.innerHTML = "<b></b> <span class='status'></span>";
      div.querySelector("b").textContent = run.id;
      const s = div.querySelector(".status");
      s.textContent = run.status; s.classList.add(run.status);
      const ul = document.createElement("ul");
      const ids = [...new Set([...run.chains, ...live.keys()])];
      const depth = (id) => id.split(".").length - 1;
      for (const id of ids.sort()) {
        const a = live.get(id);
        const li = document.createElement("li");
        li.className = "actor";
        li.dataset.actor = id;
        li.style.paddingLeft = (depth(id) * 12) + "px";
        const end = run.ended.find((x) => x.id === id);
        const status = a ? a.status : end ? end.status : "stopped";
        if (end) li.title = end.reason;
        li.innerHTML = "<span></span><span class='status'></span>";
        li.firstChild.textContent = id;
        li.lastChild.textContent = status + (a && a.restarts ? " ↻" + a.restarts : "") + (a && a.mailbox ? " ✉" + a.mailbox : "");
        li.lastChild.classList.add(status);
        if (run.id === view.run && id === view.actor) li.classList.add("selected");
        li.onclick = () => select(run.id, id);
        ul.append(li);
      }
      div.append(ul);
      root.append(div);
    }
    show(null);
  } catch (err) { show(err); }
}

let streamAbort = null;
async function follow(run) {
  streamAbort?.abort();
  const abort = streamAbort = new AbortController();
  const seen = new Map();
  try {
    const res = await fetch("/api/runs/" + run + "/events", { headers, signal: abort.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\\n\\n")) >= 0) {
        const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
        const data = chunk.split("\\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\\n");
        if (!data) continue;
        const { actor, event } = JSON.parse(data);
        if ((seen.get(actor) ?? -1) >= event.seq) continue;
        seen.set(actor, event.seq);
        arrived(actor, event);
      }
    }
  } catch (err) { if (!abort.signal.aborted) show(err); }
}

const all = new Map();
function arrived(actor, event) {
  if (!all.has(actor)) all.set(actor, []);
  all.get(actor).push(event);
  if (event.data && event.data.link) addSequence(actor, event);
  // The timeline holds seq 0, 1, 2, …: an event it has is skipped.
  if (actor === view.actor && event.seq === view.events.length) {
    view.events.push(event);
    const follow = view.at === view.events.length - 2;
    renderTimeline();
    if (follow) travel(view.events.length - 1);
  }
  if (["actor.start", "actor.stop", "child.event", "actor.resume"].includes(event.type)) loadRuns();
}

function addSequence(actor, e) {
  const tr = document.createElement("tr");
  const from = e.data.link.actor;
  tr.innerHTML = "<td></td><td>→</td><td></td><td></td>";
  const [a, , b, m] = tr.children;
  a.textContent = from; a.className = "link from";
  b.textContent = actor + "#" + e.seq; b.className = "link to";
  m.textContent = e.type + " " + brief(e).slice(0, 80);
  a.onclick = () => openByHash(from, e.data.link.hash);
  b.onclick = () => select(view.run, actor, e.seq);
  tr.dataset.to = actor + "#" + e.seq;
  $("sequence").tBodies[0].append(tr);
}

function openByHash(actor, hash) {
  const seq = (all.get(actor) ?? []).find((e) => e.hash === hash)?.seq ?? 0;
  select(view.run, actor, seq);
}

async function select(run, actor, seq) {
  const changedRun = run !== view.run;
  view.run = run; view.actor = actor;
  if (changedRun) { all.clear(); $("sequence").tBodies[0].textContent = ""; follow(run); }
  $("title").textContent = run + " / " + actor;
  $("controls").hidden = false; $("travel").hidden = false;
  try {
    const { events } = await api("/api/runs/" + run + "/actors/" + actor + "/chain");
    view.events = events;
    const types = [...new Set(events.map((e) => e.type))].sort();
    $("filter").innerHTML = "<option value=''>all</option>" + types.map((t) => "<option>" + t + "</option>").join("");
    $("filter").value = types.includes(view.filter) ? view.filter : "";
    renderTimeline();
    travel(seq ?? events.length - 1);
    verifyBadge();
    loadRuns();
  } catch (err) { show(err); }
}

function renderTimeline() {
  const body = $("timeline").tBodies[0];
  body.textContent = "";
  const filter = $("filter").value;
  for (const e of view.events) {
    if (filter && e.type !== filter) continue;
    const tr = document.createElement("tr");
    tr.className = "event" + (e.seq === view.at ? " current" : "");
    tr.dataset.seq = e.seq;
    tr.innerHTML = "<td></td><td></td><td></td>";
    tr.children[0].textContent = e.seq;
    tr.children[1].textContent = e.type;
    tr.children[2].textContent = brief(e).slice(0, 120);
    tr.onclick = () => travel(e.seq);
    body.append(tr);
  }
  $("slider").max = Math.max(0, view.events.length - 1);
}

async function travel(seq) {
  if (!view.events.length) return;
  seq = Math.max(0, Math.min(seq, view.events.length - 1));
  view.at = seq;
  $("slider").value = seq;
  $("at").textContent = "event " + seq + " of " + (view.events.length - 1);
  for (const tr of $("timeline").tBodies[0].rows) tr.classList.toggle("current", Number(tr.dataset.seq) === seq);
  const e = view.events[seq];
  $("event").textContent = text(e);
  try {
    const q = "/api/runs/" + view.run + "/actors/" + view.actor + "/state?at=" + seq + (seq > 0 ? "&from=" + (seq - 1) : "");
    const r = await api(q);
    if (view.at !== seq) return;
    $("state").textContent = text(r.state);
    const diff = $("diff");
    diff.textContent = "";
    for (const c of r.changes ?? []) {
      const line = document.createElement("div");
      line.className = c.startsWith("+") ? "add" : c.startsWith("-") ? "del" : "";
      line.textContent = c;
      diff.append(line);
    }
    if (!(r.changes ?? []).length) diff.textContent = seq > 0 ? "(no change)" : "(first event)";
  } catch (err) { $("state").textContent = String(err.message); $("diff").textContent = ""; }
}

async function verifyBadge() {
  const badge = $("verify");
  try {
    const r = await api("/api/runs/" + view.run + "/actors/" + view.actor + "/verify");
    const cp = r.checkpoint ?? { status: "none" };
    const signed = cp.status === "ok" ? " · checkpoint ok (" + cp.size + " events, " + cp.signer + ")"
      : cp.status === "bad" ? " · checkpoint bad: " + cp.message
      : cp.status === "unchecked" ? " · checkpoint not checked (no key)" : "";
    badge.textContent = (r.ok ? "intact (" + r.events + " events)" : "broken at line " + r.error.line + ": " + r.error.message) + signed;
    badge.className = "badge " + (r.ok && cp.status !== "bad" ? "ok" : "bad");
  } catch (err) { badge.textContent = String(err.message); badge.className = "badge bad"; }
}

$("replay").onclick = async () => {
  const out = $("replay-result");
  out.textContent = "replaying…";
  try {
    const r = await api("/api/runs/" + view.run + "/actors/" + view.actor + "/replay", { method: "POST" });
    out.textContent = r.ok ? "same head " + r.head.slice(0, 12) : "diverges at seq " + r.divergence.seq + ": " + r.divergence.detail;
    out.className = "badge " + (r.ok ? "ok" : "bad");
  } catch (err) { out.textContent = String(err.message); out.className = "badge bad"; }
};
$("filter").onchange = () => { view.filter = $("filter").value; renderTimeline(); };
$("slider").oninput = () => travel(Number($("slider").value));
$("prev").onclick = () => travel(view.at - 1);
$("next").onclick = () => travel(view.at + 1);
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
  if (e.key === "ArrowLeft") { travel(view.at - 1); e.preventDefault(); }
  if (e.key === "ArrowRight") { travel(view.at + 1); e.preventDefault(); }
});
$("send").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const msg = JSON.parse($("msg").value);
    const r = await api("/api/runs/" + view.run + "/actors/" + view.actor + "/request", { method: "POST", body: JSON.stringify({ msg }) });
    $("sent").textContent = text(r);
  } catch (err) { $("sent").textContent = String(err.message); }
};
loadRuns();
setInterval(loadRuns, 2000);
`;

/**
 * What the inspector's files may do in a browser: load and connect only to
 * this server, run no inline script (guest text shown in the page cannot
 * become code), and not be framed by another page (no clickjacking of
 * "Send").
 */
export const INSPECTOR_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const FILES: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: PAGE },
  "/inspector.js": { type: "text/javascript; charset=utf-8", body: SCRIPT },
  "/inspector.css": { type: "text/css; charset=utf-8", body: STYLE },
};

/** The paths of the inspector's files. */
export const INSPECTOR_PATHS: readonly string[] = Object.keys(FILES);

/**
 * The inspector's file at `path` (default: the page, `/`), with its
 * policy headers; a 404 for any other path.
 */
export function inspectorPage(path = "/"): Response {
  const file = FILES[path];
  if (!file) return new Response("not an inspector file", { status: 404 });
  return new Response(file.body, {
    headers: {
      "content-type": file.type,
      "content-security-policy": INSPECTOR_POLICY,
      // For browsers that do not know frame-ancestors.
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });
}
