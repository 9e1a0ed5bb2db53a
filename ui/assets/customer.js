// The customer-facing screen: shows what the display device was told.
const STATUS_WORDS = ["approved", "declined", "queued", "approved_offline"];
async function watch() {
  let v = 0;
  for (;;) {
    try {
      const d = await api("/api/display?after=" + v);
      v = d.version;
      const qr = document.getElementById("qr");
      if (d.screen.qr) { qr.src = "/api/display/qr.png?v=" + v; qr.hidden = false; } else { qr.hidden = true; }
      const lines = document.getElementById("lines");
      // A payment's status comes as the API's word; the customer reads it
      // in the screen's language.
      lines.replaceChildren(...(d.screen.lines || []).map(l => {
        const p = document.createElement("p");
        if (STATUS_WORDS.includes(l)) { p.dataset.i18n = l; p.className = "status " + l; p.textContent = t(l); } else { p.textContent = l; }
        return p;
      }));
      document.getElementById("idle").hidden = (d.screen.lines || []).length > 0 || !!d.screen.qr;
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}
watch();
