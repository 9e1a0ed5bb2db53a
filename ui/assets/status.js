// The technician's status page: device, link and queue, and the tamper
// switch's lock, shown as a banner while it holds.

// when formats a time from the API; Go writes a never-set time as year 1.
function when(iso) {
  const d = iso ? new Date(iso) : null;
  return d && d.getFullYear() > 2000 ? d.toLocaleString(LANG) : "-";
}
async function refresh() {
  try {
    const s = await api("/api/status");
    const dl = document.getElementById("facts");
    const tp = s.tamper || {};
    const tamper = tp.locked ? t("tamper_locked_short") : tp.open ? t("tamper_open") : tp.openings ? t("tamper_alerted") : t("tamper_ok");
    const rows = [["device", s.device], ["broker", s.link.broker || "-"], ["link", s.link.connected ? t("online") : t("offline")],
                  ["queue", s.queue.depth], ["last_sync", when(s.link.last_sync)], ["tamper", tamper]];
    const banner = document.getElementById("tamper-banner");
    banner.hidden = !tp.locked;
    banner.textContent = tp.locked ? t("tamper_locked") : "";
    dl.replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt"); dt.textContent = t(k);
      const dd = document.createElement("dd"); dd.textContent = v; dd.id = "fact-" + k;
      return [dt, dd];
    }));
  } catch (e) {}
}
document.getElementById("syncnow").addEventListener("click", () => api("/api/sync", {method: "POST"}).then(refresh));
document.addEventListener("langchange", refresh);
refresh();
setInterval(refresh, 2000);
