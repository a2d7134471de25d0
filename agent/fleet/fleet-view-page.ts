// The fleet view's one page: inline CSS and script, no CDN, built into the agent's bundle as a string.
// It draws /api/fleet's overview as it arrives on /api/events (server-sent events). Everything from
// etcd is set as text, never as HTML: host names and failure reasons are written by any agent.

import { createHash } from 'node:crypto';

const STYLE = `
:root { --ok: #2e7d32; --staged: #1565c0; --wait: #9e9e9e; --fail: #c62828; --halt: #b71c1c; --ink: #1d232a; --soft: #5f6b76; --line: #dde3e8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f5f7f9; }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #17202a; color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header .live { margin-left: auto; font-size: 13px; color: #b9c4cf; }
header .live.ok::before { content: "●"; color: #66bb6a; margin-right: 6px; }
header .live.down::before { content: "●"; color: #ef5350; margin-right: 6px; }
main { display: grid; grid-template-columns: minmax(0, 2fr) minmax(260px, 1fr); gap: 18px; padding: 18px 24px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
section h2 { margin: 0 0 10px; font-size: 14px; text-transform: uppercase; letter-spacing: .04em; color: var(--soft); }
#trouble { grid-column: 1 / -1; background: #fff3e0; border-color: #ffb74d; display: none; }
#trouble.shown { display: block; }
#hosts-section { grid-column: 1 / -1; }
.release { padding: 10px 0; border-top: 1px solid var(--line); }
.release:first-of-type { border-top: 0; }
.release .title { display: flex; gap: 10px; align-items: baseline; }
.release .version { font-weight: 700; font-size: 16px; font-family: ui-monospace, monospace; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #e8f5e9; color: var(--ok); }
.badge.halted { background: #ffebee; color: var(--halt); font-weight: 700; }
.badge.resumed { background: #e3f2fd; color: var(--staged); }
.bar { display: flex; height: 14px; margin: 6px 0 4px; background: #eef1f4; border-radius: 7px; overflow: hidden; }
.bar span { height: 100%; }
.bar .running { background: var(--ok); } .bar .staged { background: var(--staged); } .bar .waiting { background: var(--wait); } .bar .failed { background: var(--fail); }
.legend { font-size: 12px; color: var(--soft); margin-bottom: 4px; }
.legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
.legend span:first-child { margin-left: 0; }
.legend .running { background: var(--ok); } .legend .staged { background: var(--staged); } .legend .waiting { background: var(--wait); } .legend .failed { background: var(--fail); }
.counts { color: var(--soft); font-size: 13px; }
.why { color: var(--halt); font-size: 13px; margin-top: 2px; }
ul.failures { margin: 4px 0 0; padding-left: 18px; font-size: 13px; }
ul.failures li { color: var(--fail); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: 12px; color: var(--soft); font-weight: 600; }
td.mono { font-family: ui-monospace, monospace; }
tr.quiet td { color: #8d6e63; background: #fff8e1; }
.holder { padding: 6px 0; border-top: 1px solid var(--line); }
.holder:first-of-type { border-top: 0; }
.kind { font-size: 12px; padding: 0 6px; border-radius: 4px; background: #eceff1; color: var(--soft); margin-left: 6px; }
.muted { color: var(--soft); }
.quiet-note { margin: 0 0 8px; color: #8d6e63; }
.quiet-note:empty { display: none; }
`;

const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c === null || c === undefined ? "" : c);
  return node;
}
function ago(ms) {
  if (ms === null) return "never (time unreadable)";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + "s ago";
  const m = Math.round(s / 60);
  if (m < 120) return m + "m ago";
  const h = Math.round(m / 60);
  return h < 48 ? h + "h ago" : Math.round(h / 24) + "d ago";
}
function when(iso) {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").replace(/\\.\\d+Z$/, "Z");
}
function releases(o) {
  const total = Math.max(1, o.hosts.length);
  const box = $("releases");
  box.replaceChildren();
  if (o.versions.length === 0) box.append(el("p", { class: "muted" }, "No host has reported yet."));
  for (const v of o.versions) {
    const failed = v.failures.length;
    const title = el("div", { class: "title" }, el("span", { class: "version" }, v.version));
    if (v.halt && v.halt.state === "halted") title.append(el("span", { class: "badge halted", "data-halted": "" }, "HALTED by " + v.halt.by));
    else if (v.halt) title.append(el("span", { class: "badge resumed" }, "resumed by " + v.halt.by));
    const pct = (n) => (100 * n / total).toFixed(2) + "%";
    const bar = el("div", { class: "bar", title: v.running + " running, " + v.staged + " staged, " + v.waitingForWave + " waiting, " + failed + " failed" },
      el("span", { class: "running", style: "width:" + pct(v.running) }),
      el("span", { class: "staged", style: "width:" + pct(v.staged) }),
      el("span", { class: "waiting", style: "width:" + pct(v.waitingForWave) }),
      el("span", { class: "failed", style: "width:" + pct(failed) }));
    const parts = [v.running + " running", v.staged + " staged", v.waitingForWave + " waiting for their wave" + (v.nextWaveAt ? " (next " + when(v.nextWaveAt) + ")" : ""), failed + " failed"];
    if (v.succeeded) parts.push(v.succeeded + " updated");
    if (v.forgiven) parts.push(v.forgiven + " earlier failures forgiven");
    const row = el("div", { class: "release", "data-version": v.version }, title, bar, el("div", { class: "counts" }, parts.join(" · ")));
    if (v.halt) row.append(el("div", { class: "why" }, (v.halt.state === "halted" ? "halted" : "resumed") + " by " + v.halt.by + " at " + when(v.halt.at) + ": " + v.halt.reason));
    if (failed) {
      const list = el("ul", { class: "failures" });
      for (const f of v.failures) list.append(el("li", {}, f.host + " " + f.result + (f.reason ? ": " + f.reason : "") + " (" + when(f.at) + ")"));
      row.append(list);
    }
    box.append(row);
  }
}
function lock(o) {
  const box = $("lock");
  box.replaceChildren(el("p", { id: "places" }, o.lock.holders.length + " of " + o.lock.max + " reboot places held"));
  for (const h of o.lock.holders) {
    const detail = h.host === null ? "no record (plain locksmith holder)" : h.host + " since " + when(h.since) + (h.targetVersion && h.targetVersion !== "unknown" ? ", to " + h.targetVersion : "") + (h.expires === "never" ? ", until released" : h.expires ? ", until " + when(h.expires) : "") + (h.alive === false ? ", EXPIRED" : "");
    box.append(el("div", { class: "holder", "data-holder": h.id }, el("strong", {}, h.id), el("span", { class: "kind" }, h.kind), el("div", { class: "muted" }, detail)));
  }
}
function hosts(o) {
  const body = $("hosts");
  body.replaceChildren();
  for (const h of o.hosts) {
    const state = [h.activity, h.health];
    if (h.staged) state.push("staged " + h.staged);
    if (h.waitingForWave) state.push("waiting for wave of " + h.waitingForWave.version + " until " + when(h.waitingForWave.until));
    if (h.holdsPlace) state.push("holds a reboot place");
    body.append(el("tr", { class: h.quiet ? "quiet" : "", "data-host": h.host },
      el("td", {}, h.host), el("td", { class: "mono" }, h.version), el("td", { class: "mono" }, h.slot),
      el("td", {}, state.join(", ")), el("td", {}, ago(h.silentForMs) + (h.quiet ? " (quiet)" : ""))));
  }
  const quiet = $("quiet");
  quiet.textContent = o.quiet.length ? o.quiet.length + " quiet for over " + Math.round(o.quietAfterMs / 60000) + "m: " + o.quiet.map((h) => h.host).join(", ") : "";
}
function render(o) {
  $("group").textContent = o.group === "" ? "default group" : "group " + o.group;
  $("summary").textContent = o.hosts.length + " hosts, " + o.versions.length + " versions";
  releases(o); lock(o); hosts(o);
  $("updated").textContent = "updated " + when(o.at);
  document.body.dataset.at = o.at;
}
function connect() {
  const live = $("live");
  const events = new EventSource("api/events");
  events.addEventListener("overview", (e) => {
    $("trouble").classList.remove("shown");
    live.className = "live ok"; live.textContent = "live";
    render(JSON.parse(e.data));
  });
  events.addEventListener("trouble", (e) => {
    $("trouble").classList.add("shown");
    $("trouble-text").textContent = JSON.parse(e.data).message;
    live.className = "live down"; live.textContent = "etcd unreachable";
  });
  events.onerror = () => { live.className = "live down"; live.textContent = "reconnecting"; };
}
connect();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page's Content-Security-Policy: only its own script and style, talking only to its own server. */
export const FLEET_VIEW_CSP = `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const FLEET_VIEW_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>slipway fleet</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>slipway fleet</h1><span id="group"></span><span id="summary" class="muted"></span><span id="live" class="live">connecting</span></header>
<main>
<section id="trouble"><h2>etcd</h2><span id="trouble-text"></span></section>
<section><h2>Releases</h2><div class="legend"><span class="running"></span>running <span class="staged"></span>staged <span class="waiting"></span>waiting for their wave <span class="failed"></span>failed</div><div id="releases"></div></section>
<section><h2>Reboot lock</h2><div id="lock"></div></section>
<section id="hosts-section"><h2>Hosts</h2><p id="quiet" class="quiet-note"></p>
<table><thead><tr><th>Host</th><th>Version</th><th>Slot</th><th>State</th><th>Last seen</th></tr></thead><tbody id="hosts"></tbody></table>
<p id="updated" class="muted"></p></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
