// The cashier's end of day: refunds and voids of a payment found by its
// receipt's QR code (scanned, or its reference typed) or picked in the
// day's list, never by typing its id; the day's report and closing the
// day.
const rform = document.getElementById("refund");
const rresult = document.getElementById("result");
const findForm = document.getElementById("find");
let selected = null; // the payment refunds and voids are for
let dayList = [];

// say shows the result line; text is a function, called again when the
// language changes.
let lastSay = null;
function say(status, text) {
  lastSay = [status, text];
  rresult.className = "result " + status;
  rresult.dataset.status = status;
  rresult.textContent = text();
}

// select shows payment p, with what can be done to it.
function select(p) {
  selected = p;
  const money = v => formatMinor(v, p.currency) + " " + p.currency;
  const left = p.amount - (p.refunded || 0);
  const rows = [[t("time"), new Date(p.created).toLocaleString(LANG)], [t("amount"), money(p.amount)],
                [t("scheme"), t("scheme_" + p.scheme) + (p.code_tail ? " (…" + p.code_tail + ")" : "")], [t("status"), t(p.status)],
                [t("refunded"), money(p.refunded || 0)]];
  const dl = document.getElementById("sel");
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  dl.dataset.id = p.id;
  dl.dataset.status = p.status;
  dl.hidden = false;
  document.getElementById("nosel").hidden = true;
  rform.hidden = false;
  const refundable = p.status === "approved" && left > 0;
  rform.ramount.value = refundable ? formatMinor(left, p.currency) : "";
  document.getElementById("dorefund").disabled = !refundable;
  document.getElementById("dovoid").disabled = (p.status !== "approved" && p.status !== "approved_offline") || (p.refunded || 0) > 0;
  drawList();
}

// act refunds or voids the selected payment once a supervisor approved
// (session.js); what says what was done.
async function act(action, path, body, what) {
  if (!selected) return;
  const sv = await askSupervisor(action);
  if (!sv) return;
  body = Object.assign({}, body, sv);
  try {
    const p = await api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
    say("approved", () => t("done") + " · " + what(p) + (p.drawer_error ? " · " + t("drawer_failed") : ""));
    select(p);
  } catch (e) { say("error", () => t("error") + ": " + e.message); }
  refresh();
}

rform.addEventListener("submit", ev => {
  ev.preventDefault();
  const amount = rform.ramount.value;
  act("action_refund", "/api/payments/" + encodeURIComponent(selected.id) + "/refund", {amount},
    p => t("refunded") + " " + amount + " " + p.currency + (p.scheme === "cash" ? " · " + t("scheme_cash") : ""));
});
document.getElementById("dovoid").addEventListener("click", () => {
  act("action_void", "/api/payments/" + encodeURIComponent(selected.id) + "/void", null,
    p => t(p.status) + " · " + formatMinor(p.amount, p.currency) + " " + p.currency);
});

// find looks a receipt's reference up: typed, scanned into the field by a
// keyboard scanner, or read by the till's scanners and cameras.
async function find(ref) {
  try {
    select(await api("/api/lookup?ref=" + encodeURIComponent(ref)));
    const p = selected;
    say("found", () => t("selected") + " · " + formatMinor(p.amount, p.currency) + " " + p.currency);
    findForm.ref.value = "";
  } catch (e) { say("error", () => t("error") + ": " + e.message); }
}
findForm.addEventListener("submit", ev => { ev.preventDefault(); find(findForm.ref.value); });

// Codes read by the till's scanners and cameras while this page is open
// are looked up as receipts; only those read after it loaded count.
async function watchScans() {
  let n = null;
  for (;;) {
    try {
      if (n === null) { n = (await api("/api/scans")).n; document.body.dataset.scanFeed = n; continue; }
      const s = await api("/api/scans?after=" + n);
      if (s.code && s.n > n) find(s.code.text);
      n = s.n;
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}

async function loadList() {
  try { dayList = await api("/api/day/payments"); } catch (e) { return; }
  drawList();
}

function drawList() {
  const tb = document.querySelector("#payments tbody");
  tb.replaceChildren(...dayList.map(p => {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id;
    tr.dataset.status = p.status;
    if (selected && selected.id === p.id) tr.className = "selected";
    for (const v of [new Date(p.created).toLocaleTimeString(LANG), formatMinor(p.amount, p.currency), t("scheme_" + p.scheme), t(p.status),
                     p.refunded ? formatMinor(p.refunded, p.currency) : ""]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button"; b.className = "pick"; b.textContent = t("pick");
    b.addEventListener("click", () => { select(p); say("found", () => t("selected") + " · " + formatMinor(p.amount, p.currency) + " " + p.currency); });
    td.appendChild(b); tr.appendChild(td);
    return tr;
  }));
}

// A till with a printer prints the selected payment's receipt again.
const printBtn = document.getElementById("doprint");
api("/api/config").then(c => { printBtn.hidden = !c.printer; }).catch(() => {});
printBtn.addEventListener("click", async () => {
  if (!selected) return;
  const p = selected;
  try {
    await api("/api/payments/" + encodeURIComponent(p.id) + "/print", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
    say("approved", () => t("printed") + " · " + formatMinor(p.amount, p.currency) + " " + p.currency);
  } catch (e) { say("error", () => t("error") + ": " + e.message); }
});

document.getElementById("closeday").addEventListener("click", async () => {
  // The closed day's report stays on the page; the next refresh shows the
  // next business day, where payments taken from now on count.
  const sv = await askSupervisor("action_close_day");
  if (!sv) return;
  try { drawReport(await api("/api/day/close", {method: "POST", body: JSON.stringify(sv)})); } catch (e) { say("error", () => t("error") + ": " + e.message); refreshReport(); }
});

async function refreshReport() {
  try { drawReport(await api("/api/report")); } catch (e) {}
}

function refresh() { refreshReport(); loadList(); }

function drawReport(r) {
  const money = v => formatMinor(v, r.currency);
  const rows = [[t("business_day"), r.day], [t("sales"), money(r.sales) + " (" + r.count + ")"],
                [t("wallet_sales"), money(r.wallet || 0) + " (" + (r.wallet_count || 0) + ")"],
                [t("cash_sales"), money(r.cash || 0) + " (" + (r.cash_count || 0) + ")"],
                [t("refunds"), money(r.refunds) + " (" + r.refund_count + ")"],
                [t("cash_refunds"), money(r.cash_refunds || 0)], [t("cash_drawer"), money(r.cash_drawer || 0)],
                [t("voids"), money(r.voids) + " (" + r.void_count + ")"], [t("net"), money(r.net)],
                [t("offline_pending"), money(r.offline_pending) + " (" + r.offline_pending_count + ")"],
                [t("offline_declined"), money(r.offline_declined) + " (" + r.offline_declined_count + ")"],
                [t("closed"), r.closed ? "✓" : "-"]];
  // Each wallet under the wallets' line; cash has its own.
  for (const s of (r.schemes || []).filter(s => s.scheme !== "cash").reverse()) rows.splice(3, 0, ["· " + t("scheme_" + s.scheme), money(s.amount) + " (" + s.count + ")"]);
  // The shop's QR orders that ended unpaid (the paid ones are a scheme).
  for (const q of (r.qr && r.qr.ended) || []) rows.push([t("qr_ended"), q.ref + " · " + money(q.amount) + " · " + t("qr_" + q.status)]);
  const tb = document.querySelector("#report tbody");
  tb.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = k;
    const td = document.createElement("td"); td.textContent = v; td.dataset.key = k;
    tr.append(th, td);
    return tr;
  }));
  const rep = document.getElementById("report");
  rep.dataset.net = r.net;
  rep.dataset.day = r.day;
  rep.dataset.cash = r.cash || 0;
  rep.dataset.cashDrawer = r.cash_drawer || 0;
}
document.addEventListener("langchange", () => { refresh(); if (selected) select(selected); if (lastSay) say(...lastSay); });
refresh();
// Payments taken at the till meanwhile join the list.
setInterval(refresh, 5000);
watchScans();
// The cashier's page sends a scanned receipt here as ?ref=.
const startRef = new URLSearchParams(location.search).get("ref");
if (startRef) find(startRef);
