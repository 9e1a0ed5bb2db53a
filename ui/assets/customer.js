// The customer-facing screen: shows what the display device was told.
async function watch() {
  let v = 0;
  for (;;) {
    try {
      const d = await api("/api/display?after=" + v);
      v = d.version;
      const qr = document.getElementById("qr");
      if (d.screen.qr) { qr.src = "/api/display/qr.png?v=" + v; qr.hidden = false; } else { qr.hidden = true; }
      const lines = document.getElementById("lines");
      lines.replaceChildren(...(d.screen.lines || []).map(l => { const p = document.createElement("p"); p.textContent = l; return p; }));
      document.getElementById("idle").hidden = (d.screen.lines || []).length > 0 || !!d.screen.qr;
    } catch (e) { await new Promise(r => setTimeout(r, 2000)); }
  }
}
watch();
