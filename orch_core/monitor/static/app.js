// orch-hooks monitor: renders /api/overview and its live updates (/api/stream, SSE).
// Data goes into the page with textContent only, never as HTML.
"use strict";

let seenLocks = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function badge(state) {
  return el("span", state, "state state-" + state);
}

function fill(id, rows, columns, emptyText, rowAttrs) {
  const body = document.querySelector("#" + id + " tbody");
  const out = [];
  for (const row of rows) {
    const tr = el("tr");
    if (rowAttrs) rowAttrs(tr, row);
    for (const col of columns) {
      const td = el("td");
      const v = col(row);
      if (v instanceof Node) td.appendChild(v); else td.textContent = v == null ? "-" : String(v);
      tr.appendChild(td);
    }
    out.push(tr);
  }
  if (!out.length) {
    const tr = el("tr");
    const td = el("td", emptyText, "empty");
    td.colSpan = columns.length;
    tr.appendChild(td);
    out.push(tr);
  }
  body.replaceChildren(...out);
  const count = document.getElementById(id + "-count");
  if (count) count.textContent = "(" + rows.length + ")";
}

function render(ov) {
  if (ov.error) {
    document.getElementById("updated").textContent = "state unreadable: " + ov.error;
    return;
  }
  document.getElementById("repo").textContent = ov.repository;
  document.getElementById("updated").textContent = "as of " + ov.time + " (event " + ov.db_version + ")";
  const mail = ov.unread_mail || {};
  fill("sessions", ov.sessions, [
    s => s.id, s => s.owner + (s.roles.length ? " [" + s.roles.join(", ") + "]" : ""),
    s => badge(s.state), s => s.branch, s => s.current_case, s => mail[s.owner] || 0,
  ], "no open sessions", (tr, s) => { tr.dataset.session = s.id; tr.dataset.state = s.state; });
  const now = new Set(ov.locks.map(l => l.id));
  fill("locks", ov.locks, [
    l => l.path, l => l.mode, l => l.owner + " (" + l.session + ")", l => l.task,
    l => l.expires + " (in " + Math.round(l.expires_in / 60) + " min)",
  ], "no live locks", (tr, l) => {
    tr.dataset.path = l.path;
    if (seenLocks && !seenLocks.has(l.id)) tr.className = "fresh";
  });
  seenLocks = now;
  fill("queue", ov.queue.entries, [
    e => e.position, e => e.id, e => e.branch, e => badge(e.state), e => e.owner,
    e => e.approvals_needed,
    e => (e.conflicts || []).map(c => c.with + ": " + (c.files || []).join(", ")).join("; ") || "none",
  ], "the queue is empty", (tr, e) => { tr.dataset.entry = e.id; });
  fill("team", ov.team.children, [
    c => c.name, c => c.role, c => badge(c.pane), c => c.session + " (" + c.session_state + ")",
    c => c.current_case,
  ], ov.team.tmux_missing ? "tmux is not installed" : "no spawned agents",
     (tr, c) => { tr.dataset.name = c.name; });
  fill("mail", Object.keys(mail).sort().map(k => [k, mail[k]]), [m => m[0], m => m[1]],
       "no unread mail", (tr, m) => { tr.dataset.owner = m[0]; });
  fill("events", ov.events, [
    e => e.id, e => e.time, e => e.actor, e => e.kind, e => JSON.stringify(e.data),
  ], "no events yet", (tr, e) => { tr.dataset.kind = e.kind; });
}

function connect() {
  const conn = document.getElementById("conn");
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { conn.textContent = "live"; conn.className = "conn up"; });
  source.addEventListener("error", () => { conn.textContent = "reconnecting"; conn.className = "conn down"; });
  source.addEventListener("overview", ev => render(JSON.parse(ev.data)));
}

fetch("/api/overview").then(r => r.json()).then(render).finally(connect);
