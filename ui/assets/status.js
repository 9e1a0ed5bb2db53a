// The technician's status page: device, link and queue.
async function refresh() {
  try {
    const s = await api("/api/status");
    const dl = document.getElementById("facts");
    const rows = [["device", s.device], ["broker", s.link.broker || "-"], ["status", s.link.connected ? t("online") : t("offline")],
                  ["queue", s.queue.depth], ["last_sync", s.link.last_sync || "-"]];
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
