// The cashier's screen: amount, code (typed or scanned), result, recent list.
const form = document.getElementById("pay");
const result = document.getElementById("result");
let lastPayment = null;

function showPayment(p) {
  lastPayment = p;
  result.className = "result " + p.status;
  result.dataset.status = p.status;
  result.textContent = t(p.status) + " · " + (p.amount / 100).toFixed(2) + " " + p.currency + (p.reason ? " · " + p.reason : "");
}

form.addEventListener("submit", async ev => {
  ev.preventDefault();
  const btn = document.getElementById("submit");
  btn.disabled = true;
  result.className = "result sending";
  result.dataset.status = "sending";
  result.textContent = t("sending");
  try {
    const p = await api("/api/pay", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({amount: form.amount.value, code: form.code.value})});
    showPayment(p);
    form.code.value = "";
    if (p.status === "queued") follow(p.id);
  } catch (e) {
    result.className = "result error";
    result.dataset.status = "error";
    result.textContent = t("error") + ": " + e.message;
  } finally {
    btn.disabled = false;
    refreshRecent();
  }
});

// A queued payment is followed until the platform answers.
async function follow(id) {
  for (;;) {
    await new Promise(r => setTimeout(r, 1000));
    try {
      const p = await api("/api/payments/" + encodeURIComponent(id));
      if (lastPayment && lastPayment.id === id) showPayment(p);
      if (p.status !== "queued") { refreshRecent(); return; }
    } catch (e) { /* keep trying: the daemon may be restarting */ }
  }
}

async function refreshRecent() {
  try {
    const ps = await api("/api/payments?n=10");
    const tb = document.querySelector("#recent tbody");
    tb.replaceChildren(...ps.map(p => {
      const tr = document.createElement("tr");
      for (const v of [new Date(p.created).toLocaleTimeString(), (p.amount / 100).toFixed(2), p.scheme, t(p.status)]) {
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

// Codes read by scanners and cameras fill the code field.
async function watchScans() {
  let n = 0;
  for (;;) {
    try {
      const s = await api("/api/scans?after=" + n);
      if (s.code && s.n > n) { form.code.value = s.code.text; }
      n = s.n;
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}

document.addEventListener("langchange", () => { if (lastPayment) showPayment(lastPayment); refreshRecent(); refreshSync(); });
refreshRecent();
refreshSync();
setInterval(refreshSync, 2000);
watchScans();
