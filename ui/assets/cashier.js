// The cashier's screen: amount, code (typed or scanned), result, recent list.
const form = document.getElementById("pay");
const result = document.getElementById("result");
let lastPayment = null;
let lastError = null; // the error line shown, kept to redraw it in another language
let lastQR = null; // the shop's QR order shown, if that is the last thing shown
const cancelQR = document.getElementById("cancelqr");

function showPayment(p) {
  lastPayment = p;
  lastError = null;
  lastQR = null;
  cancelQR.hidden = true;
  result.className = "result " + p.status + (p.drawer_error ? " drawer_failed" : "");
  result.dataset.status = p.status;
  result.dataset.id = p.id;
  result.dataset.scheme = p.scheme;
  delete result.dataset.ref;
  result.textContent = t(p.status) + " · " + formatMinor(p.amount, p.currency) + " " + p.currency + (p.reason ? " · " + reasonText(p.reason) : "") +
    (p.scheme === "cash" ? " · " + t("scheme_cash") : "") + (p.drawer_error ? " · " + t("drawer_failed") : "") +
    (p.loss ? " · " + t("shop_loss") : "");
}

let busy = false;

function showError(msg) {
  lastError = msg;
  lastQR = null;
  cancelQR.hidden = true;
  result.className = "result error";
  result.dataset.status = "error";
  delete result.dataset.id;
  delete result.dataset.scheme;
  result.textContent = t("error") + ": " + msg;
}

form.addEventListener("submit", async ev => {
  ev.preventDefault();
  if (busy) return; // a second Enter from the scanner while the first is sent
  busy = true;
  const btn = document.getElementById("submit");
  btn.disabled = true;
  result.className = "result sending";
  result.dataset.status = "sending";
  delete result.dataset.id;
  result.textContent = t("sending");
  try {
    const p = await api("/api/pay", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({amount: form.amount.value, code: form.code.value})});
    showPayment(p);
    form.code.value = "";
    if (UNDECIDED.includes(p.status)) follow(p.id);
  } catch (e) {
    showError(e.message);
  } finally {
    busy = false;
    btn.disabled = false;
    refreshRecent();
  }
});

// A payment approved offline, still queued or waiting for the customer to
// confirm on the phone is followed until the platform (or the device's
// reverse) decides it: the cashier sees approved, declined (with the
// shop's loss for an offline approval) or reversed without doing anything.
const UNDECIDED = ["queued", "approved_offline", "user_paying"];
async function follow(id) {
  for (;;) {
    await new Promise(r => setTimeout(r, 1000));
    try {
      const p = await api("/api/payments/" + encodeURIComponent(id));
      if (lastError === null && lastPayment && lastPayment.id === id) showPayment(p);
      if (!UNDECIDED.includes(p.status)) { refreshRecent(); return; }
    } catch (e) { /* keep trying: the daemon may be restarting */ }
  }
}

async function refreshRecent() {
  try {
    const ps = await api("/api/payments?n=10");
    const tb = document.querySelector("#recent tbody");
    tb.replaceChildren(...ps.map(p => {
      const tr = document.createElement("tr");
      for (const v of [new Date(p.created).toLocaleTimeString(LANG), formatMinor(p.amount, p.currency), t("scheme_" + p.scheme), t(p.status)]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      return tr;
    }));
  } catch (e) {}
}

async function refreshSync() {
  try {
    const s = await api("/api/status");
    document.getElementById("sync").textContent =
      (s.link.connected ? t("online") : t("offline")) + " · " + t("queue") + ": " + s.queue.depth;
  } catch (e) {}
}

// Codes read by scanners and cameras fill the code field and, once the
// amount is entered, take the payment: the cashier enters the amount and
// the scan does the rest. Only codes read after the page loaded count, so
// reloading the page never pays with an old code again.
async function watchScans() {
  let n = null;
  for (;;) {
    try {
      if (n === null) { n = (await api("/api/scans")).n; continue; }
      const s = await api("/api/scans?after=" + n);
      if (s.code && s.n > n && isReceiptRef(s.code.text)) {
        // A receipt's QR code: the customer is back for a refund or a
        // void, which the day page does with the payment found.
        location.href = "day.html?ref=" + encodeURIComponent(s.code.text.trim());
        return;
      }
      if (s.code && s.n > n) {
        form.code.value = s.code.text;
        if (!busy && form.amount.value.trim() !== "") form.requestSubmit();
      }
      n = s.n;
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}

// A cash sale: the cashier has the notes in hand, the device approves it
// at once and the drawer opens once the sale is stored.
document.getElementById("cash").addEventListener("click", async () => {
  if (busy) return;
  if (form.amount.value.trim() === "") { form.amount.reportValidity(); return; }
  busy = true;
  const btn = document.getElementById("cash");
  btn.disabled = true;
  result.className = "result sending";
  result.dataset.status = "sending";
  delete result.dataset.id;
  result.textContent = t("sending");
  try {
    showPayment(await api("/api/pay/cash", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({amount: form.amount.value})}));
    form.amount.value = "";
  } catch (e) {
    showError(e.message);
  } finally {
    busy = false;
    btn.disabled = false;
    refreshRecent();
  }
});

document.addEventListener("langchange", () => {
  if (lastError !== null) showError(lastError); else if (lastQR) showQR(lastQR); else if (lastPayment) showPayment(lastPayment);
  refreshRecent(); refreshSync();
});
refreshRecent();
refreshSync();
setInterval(refreshSync, 2000);
watchScans();

// The shop's dynamic QR code for the amount, shown on the customer screen
// for the customer to scan with a wallet app. It is an order: the screen
// follows it until it is paid, expires or is cancelled.
function showQR(o) {
  lastQR = o;
  lastError = null;
  result.className = "result qr qr_" + o.status;
  result.dataset.status = "qr_" + o.status;
  result.dataset.ref = o.ref;
  delete result.dataset.id;
  // The reference is what the wallet pays, and what the demo's
  // `guichet-platform wallet pay REF` takes.
  result.textContent = t("qr_" + o.status) + " · " + formatMinor(o.amount, o.currency) + " " + o.currency + " · " + o.ref +
    (o.reason ? " · " + o.reason : "");
  cancelQR.hidden = o.status !== "open" && o.status !== "sent";
}

async function followQR(ref) {
  for (;;) {
    await new Promise(r => setTimeout(r, 1000));
    try {
      const o = await api("/api/qr/" + encodeURIComponent(ref));
      if (lastQR && lastQR.ref === ref) showQR(o);
      if (o.status !== "open" && o.status !== "sent") return;
    } catch (e) { /* keep trying: the daemon may be restarting */ }
  }
}

document.getElementById("showqr").addEventListener("click", async () => {
  try {
    const o = await api("/api/qr", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({amount: form.amount.value})});
    showQR(o);
    followQR(o.ref);
  } catch (e) { showError(e.message); }
});

cancelQR.addEventListener("click", async () => {
  if (!lastQR) return;
  try {
    showQR(await api("/api/qr/" + encodeURIComponent(lastQR.ref) + "/cancel", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}));
  } catch (e) { showError(e.message); }
});
