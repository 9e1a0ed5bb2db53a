// The technician's overview (tech.html): the self-test with one row per
// check (its detail, and what to do about a failure), the link and the
// queue with "sync now", the peripherals, and the tamper switch's lock,
// which the signed-in technician clears with their own PIN.
Object.assign(TEXTS.zh, {tech_selftest: "自检", tech_selftest_run: "运行自检", tech_selftest_running: "自检进行中：会打印测试单、打开钱箱并鸣响蜂鸣器…",
  tech_selftest_passed: "全部通过", tech_selftest_failed: "{} 项未通过", tech_selftest_busy: "无法开始自检",
  tech_check: "检查项", tech_result: "结果", tech_detail: "详情", tech_hint: "处理建议",
  st_pass: "通过", st_fail: "未通过", st_skip: "未配置", tech_link_queue: "连接与队列", queue_blocked: "被平台拒绝的记录",
  connected: "已连接", tech_sync_requested: "已请求同步", tech_your_pin: "您的 PIN 码", tech_tamper_clear: "解除锁定", tech_tamper_cleared: "锁定已解除",
  tech_bad_pin: "编号或 PIN 码错误", tech_locked: "账户已锁定：请在设备上重置（guichet cashier reset）"});
Object.assign(TEXTS.en, {tech_selftest: "Self-test", tech_selftest_run: "Run the self-test", tech_selftest_running: "Self-test running: it prints a test slip, opens the drawer and sounds the buzzer…",
  tech_selftest_passed: "All checks passed", tech_selftest_failed: "{} failed", tech_selftest_busy: "The self-test could not start",
  tech_check: "Check", tech_result: "Result", tech_detail: "Detail", tech_hint: "What to do",
  st_pass: "pass", st_fail: "FAIL", st_skip: "not configured", tech_link_queue: "Link and queue", queue_blocked: "Records rejected by the platform",
  connected: "Connected", tech_sync_requested: "Sync requested", tech_your_pin: "Your PIN", tech_tamper_clear: "Clear the lock", tech_tamper_cleared: "Lock cleared",
  tech_bad_pin: "Wrong id or PIN", tech_locked: "Account locked: reset it on the appliance (guichet cashier reset)"});
Object.assign(TEXTS.fr, {tech_selftest: "Autotest", tech_selftest_run: "Lancer l'autotest", tech_selftest_running: "Autotest en cours : il imprime un ticket de test, ouvre le tiroir et fait sonner le buzzer…",
  tech_selftest_passed: "Tous les contrôles ont réussi", tech_selftest_failed: "{} en échec", tech_selftest_busy: "L'autotest n'a pas pu démarrer",
  tech_check: "Contrôle", tech_result: "Résultat", tech_detail: "Détail", tech_hint: "Que faire",
  st_pass: "réussi", st_fail: "ÉCHEC", st_skip: "non configuré", tech_link_queue: "Liaison et file d'attente", queue_blocked: "Enregistrements refusés par la plateforme",
  connected: "Connecté", tech_sync_requested: "Synchronisation demandée", tech_your_pin: "Votre code PIN", tech_tamper_clear: "Lever le verrouillage", tech_tamper_cleared: "Verrouillage levé",
  tech_bad_pin: "Identifiant ou code PIN erroné", tech_locked: "Compte verrouillé : le réinitialiser sur l'appareil (guichet cashier reset)"});

// when formats a time from the API; Go writes a never-set time as year 1.
function when(iso) {
  const d = iso ? new Date(iso) : null;
  return d && d.getFullYear() > 2000 ? d.toLocaleString(LANG) : "-";
}
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// The self-test: the last report, redrawn on a change of language.
let report = null, selftestMsg = null;
function showSelfTest() {
  const state = document.getElementById("selftest-state");
  if (selftestMsg) state.textContent = selftestMsg();
  const table = document.getElementById("selftest");
  if (!report) return;
  table.hidden = false;
  table.tBodies[0].replaceChildren(...(report.results || []).map(r => {
    const tr = document.createElement("tr");
    tr.dataset.status = r.status; tr.dataset.check = r.name;
    tr.append(cell(r.name), cell(t("st_" + r.status), "st"), cell(r.detail || ""), cell(r.status === "fail" ? r.hint || "" : "", "hint"));
    return tr;
  }));
}
document.getElementById("selftest-run").addEventListener("click", async () => {
  const btn = document.getElementById("selftest-run");
  const state = document.getElementById("selftest-state");
  btn.disabled = true;
  state.dataset.state = "running";
  selftestMsg = () => t("tech_selftest_running");
  showSelfTest();
  try {
    report = await api("/api/selftest", {method: "POST", body: "{}"});
    state.dataset.state = report.failed ? "failed" : "passed";
    const n = report.failed;
    selftestMsg = () => n ? t("tech_selftest_failed").replace("{}", n) : t("tech_selftest_passed");
  } catch (e) {
    state.dataset.state = "error";
    selftestMsg = () => t("tech_selftest_busy") + ": " + e.message;
  }
  btn.disabled = false;
  showSelfTest();
});

// refresh reads the status: link, queue, peripherals, tamper switch.
let lastStatus = null;
async function refresh() {
  try { lastStatus = await api("/api/status"); } catch (e) { return; }
  const s = lastStatus, q = s.queue || {}, l = s.link || {};
  const rows = [["device", s.device || "-"], ["broker", l.broker || "-"], ["link", l.connected ? t("online") : t("offline")],
                ["last_sync", when(l.last_sync)], ["queue", q.depth ?? "-"], ["queue_blocked", q.blocked ?? 0]];
  document.getElementById("facts").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = t(k);
    const dd = document.createElement("dd"); dd.textContent = v; dd.id = "fact-" + k;
    return [dt, dd];
  }));
  showDevices(s.devices || []);
  showTamper(s.tamper);
}
// showDevices writes one line per peripheral, ok or degraded with what to
// check (as the status page does).
function showDevices(devs) {
  document.getElementById("devices").replaceChildren(...devs.map(d => {
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
// showTamper shows the switch's state, and the clearing form while it
// locks; the appliance without a switch has no tamper state.
function showTamper(tp) {
  const box = document.getElementById("tamper-box");
  box.hidden = !tp;
  if (!tp) return;
  const banner = document.getElementById("tamper-banner");
  banner.hidden = !tp.locked;
  banner.textContent = tp.locked ? t("tamper_locked") : "";
  const st = document.getElementById("tamper-state");
  st.dataset.locked = tp.locked ? "true" : "false";
  st.textContent = tp.locked ? t("tamper_locked_short") : tp.open ? t("tamper_open") : tp.openings ? t("tamper_alerted") : t("tamper_ok");
  document.getElementById("tamper-clear").hidden = !tp.locked;
}
document.getElementById("tamper-clear").addEventListener("submit", async ev => {
  ev.preventDefault();
  const res = document.getElementById("tamper-result");
  const pin = document.getElementById("tamper-pin");
  const me = document.getElementById("who")?.dataset.id || "";
  try {
    // Not api(): a wrong PIN answers 401, which is no lost session.
    const r = await fetch("/api/tamper/clear", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({technician: me, pin: pin.value})});
    if (!r.ok) { const b = await r.json().catch(() => ({})); const e = new Error(b.error || r.statusText); e.status = r.status; throw e; }
    res.className = "result ok"; res.dataset.status = "cleared"; res.textContent = t("tech_tamper_cleared");
  } catch (e) {
    res.className = "result error"; res.dataset.status = "refused";
    res.textContent = e.status === 423 ? t("tech_locked") : e.status === 401 ? t("tech_bad_pin") : t("error") + ": " + e.message;
  }
  pin.value = "";
  refresh();
});
document.getElementById("syncnow").addEventListener("click", async () => {
  const st = document.getElementById("sync-state");
  try {
    await api("/api/sync", {method: "POST", body: "{}"});
    st.dataset.state = "requested"; st.textContent = t("tech_sync_requested");
  } catch (e) { st.textContent = t("error") + ": " + e.message; }
  refresh();
});
document.addEventListener("langchange", () => { showSelfTest(); refresh(); });
refresh();
setInterval(refresh, 3000);
