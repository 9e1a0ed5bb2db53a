// The technician's status page: device, link, queue and peripherals, and
// the tamper switch's lock, shown as a banner while it holds.
Object.assign(TEXTS.zh, {nav_technician: "技术员"});
Object.assign(TEXTS.en, {nav_technician: "Technician"});
Object.assign(TEXTS.fr, {nav_technician: "Technicien"});

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
    showDevices(s.devices || []);
  } catch (e) {}
}
// showDevices writes one line per peripheral, ok or degraded with what to
// check, and raises the banner while any is degraded.
function showDevices(devs) {
  const ul = document.getElementById("devices");
  ul.replaceChildren(...devs.map(d => {
    const li = document.createElement("li");
    const m = d.name.match(/^devices\.([a-z_]+)(?:\[(\d+)\])?$/);
    const label = m ? t("dev_" + m[1]) + (m[2] !== undefined ? " " + (Number(m[2]) + 1) : "") : d.name;
    li.id = "dev-" + d.name.replace(/[^a-z0-9]+/gi, "-");
    li.className = d.state === "ok" ? "ok" : "degraded";
    li.dataset.state = d.state;
    const hint = d.state === "ok" ? "" : " — " + (d.problem && d.problem !== "other" ? t("hint_" + d.problem) : d.hint);
    li.textContent = label + " (" + (d.driver || "-") + "): " + t("state_" + d.state) + hint;
    return li;
  }));
  document.getElementById("degraded").hidden = !devs.some(d => d.state !== "ok");
}
document.getElementById("syncnow").addEventListener("click", () => api("/api/sync", {method: "POST"}).then(refresh));
document.addEventListener("langchange", refresh);
refresh();
setInterval(refresh, 2000);
