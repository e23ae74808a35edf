// Sirekap tally dashboard: plain JS, no build. Routes live in the URL hash:
//   #/region/<code>   a region with its children, chart, progress and anomalies
//   #/tps/<13 digits> one TPS: photos beside the machine reading, history, review form
//   #/review          the signed-in official's review queue
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = {
  token: sessionStorage.getItem("token"),
  who: JSON.parse(sessionStorage.getItem("who") || "null"),
  contest: sessionStorage.getItem("contest") || "PPWP",
};
const HOME = document.documentElement.dataset.home || "17.08";

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function num(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("id-ID");
}
function showError(message) {
  const el = $("#error");
  el.textContent = message;
  el.hidden = !message;
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const res = await fetch(path, { ...options, headers });
  const body = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const err = new Error(body ? `${body.detail_id} / ${body.detail}` : res.statusText);
    err.status = res.status;
    err.body = body;
    throw err;
  }
  return body;
}

function progressBar(p) {
  return `<span class="bar" title="${p.percent}%"><span style="width:${Math.min(100, p.percent)}%"></span></span>
    ${num(p.reported)} / ${num(p.total)} TPS (${p.percent}%)`;
}

// A horizontal bar chart as inline SVG: one bar per paslon / party / candidate.
function chartSvg(items) {
  if (!items.length) return "<p>Tidak ada grafik / No chart</p>";
  const max = Math.max(1, ...items.map((i) => i.value));
  const rowH = 22, labelW = 260, barW = 360;
  const rows = items.map((item, i) => {
    const w = Math.round((barW * item.value) / max);
    const y = i * rowH;
    return `<text x="0" y="${y + 15}" font-size="12">${esc(item.label.slice(0, 40))}</text>
      <rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}" fill="#7a1020"></rect>
      <text x="${labelW + w + 4}" y="${y + 15}" font-size="12">${num(item.value)}</text>`;
  });
  return `<svg id="chart-svg" role="img" aria-label="Grafik perolehan suara / Vote chart"
    width="${labelW + barW + 80}" height="${items.length * rowH}">${rows.join("")}</svg>`;
}

function anomalyList(items) {
  if (!items.length) return `<p class="ok">Tidak ada anomali / No anomalies</p>`;
  return `<ul id="anomaly-list">${items
    .map((a) => `<li class="anomaly"><a href="#/tps/${a.tps}">${a.tps}</a> — ${esc(a.kind)}:
      ${esc(a.message_id)} <i>/ ${esc(a.message_en)}</i></li>`)
    .join("")}</ul>`;
}

async function showRegion(code) {
  const c = state.contest;
  const [view, anomalies] = await Promise.all([
    api(`/api/v1/regions/${code}?contest=${c}`),
    api(`/api/v1/regions/${code}/anomalies?contest=${c}`),
  ]);
  const crumbs = view.breadcrumbs
    .map((b) => `<a href="#/region/${b.code}">${esc(b.name)}</a>`)
    .join(" › ");
  const kids = view.children
    .map((k) => {
      const href = k.kind === "tps" ? `#/tps/${k.code}` : `#/region/${k.code}`;
      const t = k.totals;
      return `<tr><td><a href="${href}">${esc(k.name)}</a> <small>${esc(k.code)}</small></td>
        <td>${progressBar(k.progress)}</td><td>${num(t.suara_sah)}</td>
        <td>${num(t.suara_total)}</td>${k.anomalies ? `<td class="anomaly">${k.anomalies}</td>` : "<td></td>"}</tr>`;
    })
    .join("");
  $("#view").innerHTML = `
    <p class="crumbs">${crumbs}</p>
    <h2 id="region-title">${esc(view.region.name)} <small>${esc(view.region.level_name)} ${esc(view.region.code)}</small></h2>
    <p>Diperbarui / Updated: <span id="updated">${esc(view.generated_at_local)}</span>
      · DPT ${num(view.region.dpt)}</p>
    <p id="progress">Kemajuan / Progress: ${progressBar(view.progress)}</p>
    <section class="grid">
      <div><h3>Perolehan suara / Votes</h3><div id="chart">${chartSvg(view.chart)}</div>
        <p>Suara sah / Valid: <b id="total-sah">${num(view.totals.suara_sah || 0)}</b> ·
           Tidak sah / Invalid: ${num(view.totals.suara_tidak_sah || 0)}</p>
        ${view.dapil ? `<p>Dapil: <a href="/api/v1/dapil/${view.dapil}?contest=${c}">${esc(view.dapil)}</a></p>` : ""}</div>
      <div><h3>Anomali / Anomalies</h3>${anomalyList(anomalies.items)}</div>
    </section>
    <h3>Wilayah di bawahnya / Children</h3>
    <table id="children"><thead><tr><th>Wilayah / Region</th><th>Kemajuan / Progress</th>
      <th>Suara sah / Valid</th><th>Jumlah / Total</th><th>Anomali</th></tr></thead>
      <tbody>${kids}</tbody></table>`;
}

function pageSection(tps, contest, p) {
  const sub = p.submissions[p.submissions.length - 1];
  if (!sub) return `<h4>Halaman / Page ${p.page}: belum ada foto / no photo yet</h4>`;
  const reading = sub.reading || { values: {}, failing: [], crops: {} };
  const failing = new Set((reading.failing || []).map((f) => f.field));
  for (const [k, info] of Object.entries(reading.fields || {})) {
    if (info && info.ok === false) failing.add(k);
  }
  const counted = (p.counted && p.counted.submission_id === sub.id && p.counted.values) || {};
  const rows = p.fields
    .map((f) => {
      const machine = reading.values ? reading.values[f.key] : null;
      const current = f.key in counted ? counted[f.key] : machine;
      // The boxes the machine was unsure of, cut from the photo, outlined in red.
      const crops = ((reading.crops || {})[f.key] || [])
        .map((c) => `<img class="crop${c.uncertain ? " uncertain" : ""}" src="${esc(c.url)}"
          alt="${esc(c.symbol)}" title="${esc(c.symbol)} ${Math.round(c.prob * 100)}%" height="32">`)
        .join("");
      return `<tr class="${failing.has(f.key) ? "failing" : ""}" data-field="${esc(f.key)}">
        <td>${esc(f.label_id)}<br><small>${esc(f.label_en)}</small></td><td>${crops}</td>
        <td>${num(machine)}</td>
        <td><input class="num" name="${esc(f.key)}" type="number" min="0" value="${current ?? ""}"></td></tr>`;
    })
    .join("");
  const history = p.history
    .map((h) => `<li>r${h.revision} ${esc(h.source)} — ${esc(h.actor)} — ${esc(h.created_at_local)}
      ${h.reason ? `— “${esc(h.reason)}”` : ""} ${h.counted ? "" : "(tidak dihitung / not counted)"}</li>`)
    .join("");
  const disputes = (p.open_disputes || [])
    .map((d) => `<p class="anomaly dispute">KPPS menyanggah / KPPS disputes (r${d.revision},
      ${esc(d.created_at_local)}): “${esc(d.reason)}” ${d.fields.map(esc).join(", ")}</p>`)
    .join("");
  return `<section class="page" data-page="${p.page}">${disputes}
    <h4>Halaman / Page ${p.page} — revisi / revision <span class="revision">${p.revision}</span>,
      foto versi / photo version ${sub.version}, ${esc(sub.received_at_local)}</h4>
    <div class="grid">
      <div class="photo"><a href="${esc(sub.photo_url)}" target="_blank"><img src="${esc(sub.photo_url)}"
        alt="C.Hasil ${esc(tps)} ${esc(contest)} ${p.page}"></a></div>
      <form class="review-form" data-contest="${esc(contest)}" data-page="${p.page}" data-submission="${sub.id}" data-revision="${p.revision}">
        <table><thead><tr><th>Isian / Field</th><th>Kotak / Boxes</th><th>Mesin / Machine</th>
          <th>Nilai / Value</th></tr></thead><tbody>${rows}</tbody></table>
        <input name="reason" placeholder="Alasan koreksi / Reason for a correction" size="40">
        <button type="submit">Konfirmasi atau koreksi / Confirm or correct</button>
        <p class="review-status" role="status"></p>
      </form>
    </div>
    <ol class="history">${history}</ol></section>`;
}

async function showTps(code) {
  const detail = await api(`/api/v1/tps/${code}`);
  const contests = Object.entries(detail.contests);
  const parts = contests.map(([contest, c]) => `<h3>${esc(contest)}</h3>
      ${c.anomalies.length ? anomalyList(c.anomalies.map((a) => ({ ...a, tps: code }))) : ""}
      ${c.pages.map((p) => pageSection(code, contest, p)).join("")}`);
  $("#view").innerHTML = `<p class="crumbs"><a href="#/region/${detail.tps.desa}">‹ ${esc(detail.tps.desa)}</a></p>
    <h2 id="tps-title">TPS ${String(detail.tps.number).padStart(3, "0")} <small>${code}</small> — DPT ${detail.tps.dpt}</h2>
    ${parts.join("") || "<p>Belum ada foto / No photos yet</p>"}`;
  for (const form of document.querySelectorAll(".review-form")) {
    form.addEventListener("submit", (ev) => submitReview(ev, code, form));
  }
}

async function submitReview(ev, tps, form) {
  ev.preventDefault();
  const status = $(".review-status", form);
  const section = form.closest("section.page");
  const contest = form.dataset.contest;
  const values = {};
  for (const input of form.querySelectorAll("input.num")) {
    if (input.value !== "") values[input.name] = Number(input.value);
  }
  try {
    const res = await api(`/api/v1/pages/${tps}/${contest}/${form.dataset.page}/review`, {
      method: "POST",
      body: JSON.stringify({
        submission_id: form.dataset.submission,
        expected_revision: Number(form.dataset.revision),
        values,
        reason: form.elements.reason.value || null,
      }),
    });
    status.textContent = `Tersimpan / Saved: ${res.source} (revisi / revision ${res.current.revision})`;
    status.className = "review-status ok";
    form.dataset.revision = res.current.revision;
    $(".revision", section).textContent = res.current.revision;
  } catch (err) {
    status.textContent = err.status === 409
      ? `Sudah diubah orang lain (revisi ${err.body.current.revision}); muat ulang / Changed by someone else; reload`
      : err.message;
    status.className = "review-status anomaly";
  }
}

async function showQueue() {
  if (!state.token) {
    $("#view").innerHTML = "<p>Silakan masuk / Please sign in</p>";
    return;
  }
  const queue = await api(`/api/v1/review/queue?contest=${state.contest}`);
  const items = queue.items
    .map((i) => `<li><a href="#/tps/${i.tps}">${i.tps} ${esc(i.contest)} hal./p. ${i.page}</a>
      — ${esc(i.received_at_local)} — ${i.failing.map((f) => esc(f.field)).join(", ")}</li>`)
    .join("");
  const disputes = queue.disputes
    .map((d) => `<li class="anomaly"><a href="#/tps/${d.tps}">${d.tps} ${esc(d.contest)} hal./p. ${d.page}</a>
      — KPPS: “${esc(d.reason)}” — ${esc(d.created_at_local)}</li>`)
    .join("");
  $("#view").innerHTML = `<h2>Antrean pemeriksaan / Review queue — ${esc(queue.region)}</h2>
    <ul id="queue">${items || "<li>Kosong / Empty</li>"}</ul>
    <h3>Sanggahan KPPS / KPPS disputes</h3>
    <ul id="disputes">${disputes || "<li>Tidak ada / None</li>"}</ul>`;
}

function renderWho() {
  $("#who").textContent = state.who ? `${state.who.username} (${state.who.role} ${state.who.region})` : "";
  $("#login-form").hidden = Boolean(state.token);
  $("#logout").hidden = !state.token;
}

async function route() {
  showError("");
  const [, kind, arg] = location.hash.split("/");
  try {
    if (kind === "tps") await showTps(arg);
    else if (kind === "review") await showQueue();
    else await showRegion(arg || (state.who && state.who.region !== "00" ? state.who.region : HOME));
  } catch (err) {
    showError(err.message);
  }
}

$("#contest").value = state.contest;
$("#contest").addEventListener("change", (ev) => {
  state.contest = ev.target.value;
  sessionStorage.setItem("contest", state.contest);
  route();
});
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await api("/api/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ username: $("#username").value, password: $("#password").value }),
    });
    state.token = res.token;
    state.who = { username: res.username, role: res.role, region: res.region };
    sessionStorage.setItem("token", res.token);
    sessionStorage.setItem("who", JSON.stringify(state.who));
    renderWho();
    route();
  } catch (err) {
    showError(err.message);
  }
});
$("#logout").addEventListener("click", () => {
  state.token = null;
  state.who = null;
  sessionStorage.clear();
  renderWho();
  route();
});
window.addEventListener("hashchange", route);
renderWho();
route();
