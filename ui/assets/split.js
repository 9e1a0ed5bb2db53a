// A split bill: one order paid by several payment codes, a part at a time.
const orderForm = document.getElementById("order");
const partForm = document.getElementById("part");
const result = document.getElementById("result");
// money writes minor units in the order's currency.
const money = v => formatMinor(v, view ? view.currency : "");

let view = null;      // the order as last read from the API
let lastPart = null;  // the part whose answer the result line shows
let lastError = null; // {key, arg} or {msg}, kept to redraw it in another language
let busy = false;
let seq = 0, shown = 0; // so that a slow answer does not overwrite a newer one

function say(status, text) {
  result.className = "result " + status;
  result.dataset.status = status;
  result.textContent = text;
}

function showPart(p) {
  lastPart = p;
  lastError = null;
  say(p.status, t(p.status) + " · " + money(p.amount) + " " + p.currency + (p.reason ? " · " + reasonText(p.reason) : ""));
  result.dataset.id = p.id;
}

function showError(err) {
  lastError = err;
  const text = err.key ? t(err.key).replace("{}", err.arg) : err.msg;
  say("error", t("error") + ": " + text);
  delete result.dataset.id;
}

function clearResult() {
  lastPart = null;
  lastError = null;
  result.className = "result";
  delete result.dataset.status;
  delete result.dataset.id;
  result.textContent = "";
}

function render(v) {
  const wasHidden = partForm.hidden;
  view = v;
  const cur = " " + v.currency;
  document.getElementById("sum-id").textContent = v.id;
  document.getElementById("sum-total").textContent = money(v.total) + cur;
  document.getElementById("sum-paid").textContent = money(v.paid) + cur;
  document.getElementById("sum-pending").textContent = money(v.pending) + cur;
  document.getElementById("sum-remaining").textContent = money(v.remaining) + cur;
  const summary = document.getElementById("summary");
  summary.dataset.status = v.status;
  summary.dataset.remaining = v.remaining;

  const st = document.getElementById("orderstatus");
  st.dataset.status = v.status;
  if (v.status === "paid") {
    st.className = "result approved";
    st.textContent = t("order_paid") + " · " + money(v.total) + cur;
  } else if (v.remaining <= 0) {
    st.className = "result queued";
    st.textContent = t("parts_pending") + " · " + money(v.pending) + cur;
  } else {
    st.className = "result";
    st.textContent = t("remaining") + " · " + money(v.remaining) + cur;
  }
  // Nothing can be taken while the rest waits for the platform's answer.
  partForm.hidden = v.remaining <= 0;
  if (wasHidden && !partForm.hidden) partForm.amount.value = money(v.remaining);

  const tb = document.querySelector("#parts tbody");
  tb.replaceChildren(...v.payments.map((p, i) => {
    const tr = document.createElement("tr");
    tr.className = p.status;
    tr.dataset.status = p.status;
    tr.dataset.id = p.id;
    for (const s of [String(i + 1), money(p.amount), t("scheme_" + p.scheme), "…" + p.code_tail, t(p.status) + (p.reason ? " · " + reasonText(p.reason) : "")]) {
      const td = document.createElement("td"); td.textContent = s; tr.appendChild(td);
    }
    return tr;
  }));

  // The result line follows a queued part to the platform's answer.
  if (lastError === null && lastPart) {
    const p = v.payments.find(x => x.id === lastPart.id);
    if (p && p.status !== lastPart.status) showPart(p);
  }
  if (v.payments.some(p => p.status === "queued" || p.status === "user_paying" || p.status === "approved_offline")) follow(v.id);
}

function showOrder(on) {
  orderForm.hidden = on;
  document.getElementById("orderbox").hidden = !on;
  document.getElementById("partsbox").hidden = !on;
}

async function refresh() {
  if (!view) return;
  const n = ++seq;
  const v = await api("/api/orders/" + encodeURIComponent(view.id));
  if (n < shown || !view || view.id !== v.id) return;
  shown = n;
  render(v);
}

let following = null;
async function follow(id) {
  if (following === id) return;
  following = id;
  while (view && view.id === id) {
    await new Promise(r => setTimeout(r, 1000));
    if (!view || view.id !== id) break;
    try {
      await refresh();
      if (!view.payments.some(p => p.status === "queued" || p.status === "user_paying" || p.status === "approved_offline")) break;
    } catch (e) { /* keep trying: the daemon may be restarting */ }
  }
  if (following === id) following = null;
}

// The order's id is kept in the address, so a reload or a second screen
// shows the same bill instead of losing the parts already taken.
async function load(id) {
  try {
    view = {id};
    const v = await api("/api/orders/" + encodeURIComponent(id));
    showOrder(true);
    partForm.hidden = true; // so render prefills the amount
    render(v);
    partForm.code.focus();
  } catch (e) {
    view = null;
    history.replaceState(null, "", location.pathname);
    showOrder(false);
    showError({msg: e.message});
  }
}

orderForm.addEventListener("submit", async ev => {
  ev.preventDefault();
  if (busy) return;
  busy = true;
  document.getElementById("create").disabled = true;
  clearResult();
  try {
    const o = await api("/api/orders", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({total: orderForm.total.value})});
    history.replaceState(null, "", "#" + encodeURIComponent(o.id));
    await load(o.id);
  } catch (e) {
    showError({msg: e.message});
  } finally {
    busy = false;
    document.getElementById("create").disabled = false;
  }
});

partForm.addEventListener("submit", async ev => {
  ev.preventDefault();
  if (busy || !view) return; // a second Enter from the scanner while the first is sent
  busy = true;
  const btn = document.getElementById("submit");
  btn.disabled = true;
  say("sending", t("sending"));
  delete result.dataset.id;
  const amount = partForm.amount.value;
  let p = null, err = null;
  try {
    p = await api("/api/orders/" + encodeURIComponent(view.id) + "/pay", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({amount, code: partForm.code.value})});
  } catch (e) { err = e; }
  try { await refresh(); } catch (e) {}
  if (p) {
    showPart(p);
    partForm.code.value = "";
    // A declined part keeps its amount: the same share is tried with
    // another code.
    if (p.status !== "declined" && !partForm.hidden) partForm.amount.value = money(view.remaining);
  } else {
    // The API's words for the case a cashier meets most often are
    // English; the page knows enough to say it in the cashier's language.
    const c = parseMinor(amount, view.currency);
    if (c !== null && view.remaining > 0 && c > view.remaining) showError({key: "above_remaining", arg: money(view.remaining) + " " + view.currency});
    else showError({msg: err.message});
  }
  busy = false;
  btn.disabled = false;
  partForm.code.focus();
});

document.getElementById("neworder").addEventListener("click", () => {
  view = null;
  history.replaceState(null, "", location.pathname);
  clearResult();
  orderForm.total.value = "";
  partForm.amount.value = "";
  partForm.code.value = "";
  showOrder(false);
  orderForm.total.focus();
});

// Codes read by scanners and cameras fill the code field. Unlike the
// cashier's page a scan does not pay by itself: the amount is prefilled
// with all that is left, and a scan that paid at once would charge one
// customer the whole rest of the bill before the cashier set their share.
// Only codes read after the page loaded count.
async function watchScans() {
  let n = null;
  for (;;) {
    try {
      if (n === null) { n = (await api("/api/scans")).n; continue; }
      const s = await api("/api/scans?after=" + n);
      if (s.code && s.n > n && view && !partForm.hidden && !busy) {
        partForm.code.value = s.code.text;
        document.getElementById("submit").focus();
      }
      n = s.n;
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}

document.addEventListener("langchange", () => {
  if (view && view.payments) render(view);
  if (lastError !== null) showError(lastError);
  else if (lastPart) showPart(lastPart);
});

showOrder(false);
if (location.hash.length > 1) load(decodeURIComponent(location.hash.slice(1)));
watchScans();
