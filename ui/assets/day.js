// The cashier's end of day: refunds and voids by payment id, the day's
// report and closing the day.
const rform = document.getElementById("refund");
const rresult = document.getElementById("result");

function say(status, text) {
  rresult.className = "result " + status;
  rresult.dataset.status = status;
  rresult.textContent = text;
}

// act asks the supervisor's approval (session.js), then calls the API.
async function act(action, path, body) {
  const sv = await askSupervisor(action);
  if (!sv) return;
  body = Object.assign({}, body, sv);
  try {
    const p = await api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
    say("approved", t("done") + " · " + p.id + " · " + t(p.status));
  } catch (e) { say("error", t("error") + ": " + e.message); }
  refreshReport();
}

rform.addEventListener("submit", ev => {
  ev.preventDefault();
  act("action_refund", "/api/payments/" + encodeURIComponent(rform.pid.value) + "/refund", {amount: rform.ramount.value});
});
document.getElementById("dovoid").addEventListener("click", () => {
  act("action_void", "/api/payments/" + encodeURIComponent(rform.pid.value) + "/void");
});
document.getElementById("closeday").addEventListener("click", async () => {
  // The closed day's report stays on the page; the next refresh shows the
  // next business day, where payments taken from now on count.
  const sv = await askSupervisor("action_close_day");
  if (!sv) return;
  try { drawReport(await api("/api/day/close", {method: "POST", body: JSON.stringify(sv)})); } catch (e) { say("error", t("error") + ": " + e.message); refreshReport(); }
});

async function refreshReport() {
  try { drawReport(await api("/api/report")); } catch (e) {}
}

function drawReport(r) {
  const money = v => formatMinor(v, r.currency);
  const rows = [[t("business_day"), r.day], [t("sales"), money(r.sales) + " (" + r.count + ")"], [t("refunds"), money(r.refunds) + " (" + r.refund_count + ")"],
                [t("voids"), money(r.voids) + " (" + r.void_count + ")"], [t("net"), money(r.net)],
                [t("offline_pending"), money(r.offline_pending) + " (" + r.offline_pending_count + ")"],
                [t("offline_declined"), money(r.offline_declined) + " (" + r.offline_declined_count + ")"],
                [t("closed"), r.closed ? "✓" : "-"]];
  for (const s of r.schemes || []) rows.splice(2, 0, [t("scheme_" + s.scheme), money(s.amount) + " (" + s.count + ")"]);
  const tb = document.querySelector("#report tbody");
  tb.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = k;
    const td = document.createElement("td"); td.textContent = v; td.dataset.key = k;
    tr.append(th, td);
    return tr;
  }));
  document.getElementById("report").dataset.net = r.net;
  document.getElementById("report").dataset.day = r.day;
}
document.addEventListener("langchange", refreshReport);
refreshReport();
