// The technician's status page: device, link and queue.

// when formats a time from the API; Go writes a never-set time as year 1.
function when(iso) {
  const d = iso ? new Date(iso) : null;
  return d && d.getFullYear() > 2000 ? d.toLocaleString(LANG) : "-";
}
async function refresh() {
  try {
    const s = await api("/api/status");
    const dl = document.getElementById("facts");
    const rows = [["device", s.device], ["broker", s.link.broker || "-"], ["link", s.link.connected ? t("online") : t("offline")],
                  ["queue", s.queue.depth], ["last_sync", when(s.link.last_sync)]];
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
