// The customer-facing screen: shows what the display device was told.
// The status comes as a key (screen.status) the page translates; a line
// that is a status word (from an older daemon) is translated too.
const STATUS_WORDS = ["approved", "declined", "queued", "approved_offline", "user_paying", "reversed", "voided"];
let screen = null;
function statusLine(key) {
  const p = document.createElement("p");
  p.dataset.i18n = "screen_" + key; p.className = "status " + key; p.id = "status"; p.dataset.status = key;
  p.textContent = t("screen_" + key);
  return p;
}
function render() {
  if (!screen) return;
  const lines = document.getElementById("lines");
  const ps = (screen.lines || []).map(l => {
    if (STATUS_WORDS.includes(l)) return statusLine(l);
    const p = document.createElement("p"); p.textContent = l; return p;
  });
  if (screen.status) ps.push(statusLine(screen.status));
  lines.replaceChildren(...ps);
  document.getElementById("idle").hidden = ps.length > 0 || !!screen.qr;
}
async function watch() {
  let v = 0;
  for (;;) {
    try {
      const d = await api("/api/display?after=" + v);
      v = d.version;
      screen = d.screen;
      const qr = document.getElementById("qr");
      if (screen.qr) { qr.src = "/api/display/qr.png?v=" + v; qr.hidden = false; } else { qr.hidden = true; }
      render();
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}
watch();
