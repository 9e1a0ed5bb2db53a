// The technician's accounts (tech-staff.html): the till's cashiers and
// supervisors, listed with their lock-outs, enrolled, their PINs reset,
// removed; and the e-ID counter's officials, enrolled or reset. A
// technician's account is listed but changed only on the appliance
// (guichet cashier add --role technician): the API refuses it here.
Object.assign(TEXTS.zh, {acc_title: "账户", acc_id: "编号", acc_name: "姓名", acc_role: "角色", acc_state: "状态",
  role_cashier: "收银员", role_supervisor: "主管", role_technician: "技术员", acc_ok: "正常", acc_locked: "已锁定",
  acc_failures: "PIN 错误 {} 次", acc_reset: "重置 PIN 码", acc_remove: "删除", acc_remove_confirm: "确认删除",
  acc_reset_for: "重置 PIN 码：", acc_new_pin: "新 PIN 码", acc_enrol: "新增收银员或主管", acc_first_pin: "初始 PIN 码", acc_enrol_button: "新增",
  acc_tech_note: "技术员账户只能在设备上管理（guichet cashier add --role technician）。",
  acc_added: "已新增 {}", acc_was_reset: "{} 的 PIN 码已重置，账户已解锁", acc_removed: "已删除 {}",
  off_title: "电子身份柜台办事员", off_note: "新增办事员，或重置被锁定办事员的 PIN 码。", off_id: "办事员编号", off_set: "新增或重置", off_done: "办事员 {} 的 PIN 码已设置",
  acc_err_exists: "该编号已存在", acc_err_input: "输入无效", acc_err_technician: "技术员账户只能在设备上管理", acc_err_unknown: "没有此账户"});
Object.assign(TEXTS.en, {acc_title: "Accounts", acc_id: "Id", acc_name: "Name", acc_role: "Role", acc_state: "State",
  role_cashier: "Cashier", role_supervisor: "Supervisor", role_technician: "Technician", acc_ok: "OK", acc_locked: "Locked",
  acc_failures: "{} wrong PIN(s)", acc_reset: "Reset the PIN", acc_remove: "Remove", acc_remove_confirm: "Confirm removal",
  acc_reset_for: "Reset the PIN of", acc_new_pin: "New PIN", acc_enrol: "Enrol a cashier or supervisor", acc_first_pin: "First PIN", acc_enrol_button: "Enrol",
  acc_tech_note: "Technicians' accounts are managed on the appliance only (guichet cashier add --role technician).",
  acc_added: "{} enrolled", acc_was_reset: "PIN of {} reset, account unlocked", acc_removed: "{} removed",
  off_title: "Officials of the e-ID counter", off_note: "Enrol an official, or reset a locked-out official's PIN.", off_id: "Official id", off_set: "Enrol or reset", off_done: "PIN of official {} set",
  acc_err_exists: "an account with this id exists", acc_err_input: "not accepted", acc_err_technician: "a technician's account is managed on the appliance", acc_err_unknown: "no such account"});
Object.assign(TEXTS.fr, {acc_title: "Comptes", acc_id: "Identifiant", acc_name: "Nom", acc_role: "Rôle", acc_state: "État",
  role_cashier: "Caissier", role_supervisor: "Superviseur", role_technician: "Technicien", acc_ok: "OK", acc_locked: "Verrouillé",
  acc_failures: "{} PIN erroné(s)", acc_reset: "Réinitialiser le PIN", acc_remove: "Supprimer", acc_remove_confirm: "Confirmer la suppression",
  acc_reset_for: "Réinitialiser le PIN de", acc_new_pin: "Nouveau PIN", acc_enrol: "Enrôler un caissier ou un superviseur", acc_first_pin: "Premier PIN", acc_enrol_button: "Enrôler",
  acc_tech_note: "Les comptes de technicien se gèrent sur l'appareil uniquement (guichet cashier add --role technician).",
  acc_added: "{} enrôlé", acc_was_reset: "PIN de {} réinitialisé, compte déverrouillé", acc_removed: "{} supprimé",
  off_title: "Agents du guichet e-ID", off_note: "Enrôler un agent, ou réinitialiser le PIN d'un agent verrouillé.", off_id: "Identifiant de l'agent", off_set: "Enrôler ou réinitialiser", off_done: "PIN de l'agent {} défini",
  acc_err_exists: "un compte avec cet identifiant existe", acc_err_input: "refusé", acc_err_technician: "un compte de technicien se gère sur l'appareil", acc_err_unknown: "compte inconnu"});

// say writes a result line: a text key with its argument, kept so that a
// change of language translates it.
const said = {};
function say(id, ok, key, arg, detail) {
  said[id] = [ok, key, arg, detail];
  const el = document.getElementById(id);
  el.className = "result " + (ok ? "ok" : "error");
  el.dataset.status = ok ? "ok" : "error";
  el.textContent = t(key).replace("{}", arg || "") + (detail ? " (" + detail + ")" : "");
}
function resay() { for (const id in said) say(id, ...said[id]); }
// refusal names the key of an API's refusal.
function refusal(e) {
  if (e.status === 409) return "acc_err_exists";
  if (e.status === 404) return "acc_err_unknown";
  if (e.status === 403 && /technician/.test(e.message)) return "acc_err_technician";
  return "acc_err_input";
}

let people = [];
async function load() {
  try { people = await api("/api/tech/staff"); } catch (e) { return; }
  draw();
}
function draw() {
  const tbody = document.querySelector("#staff tbody");
  tbody.replaceChildren(...people.map(p => {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id; tr.dataset.role = p.role;
    if (p.locked) tr.className = "locked";
    const state = p.locked ? t("acc_locked") : p.failures ? t("acc_failures").replace("{}", p.failures) : t("acc_ok");
    const td = (s) => { const c = document.createElement("td"); c.textContent = s; return c; };
    const st = td(state); st.className = "state"; st.dataset.locked = p.locked ? "true" : "false";
    const acts = document.createElement("td");
    if (p.role !== "technician") {
      const reset = document.createElement("button");
      reset.type = "button"; reset.className = "small reset"; reset.textContent = t("acc_reset");
      reset.addEventListener("click", () => {
        const f = document.getElementById("reset");
        f.hidden = false;
        document.getElementById("reset-id").value = p.id;
        document.getElementById("reset-pin").focus();
      });
      const rm = document.createElement("button");
      rm.type = "button"; rm.className = "small secondary remove"; rm.textContent = t("acc_remove");
      // Two clicks: the first asks to confirm.
      rm.addEventListener("click", async () => {
        if (!rm.dataset.confirm) { rm.dataset.confirm = "1"; rm.textContent = t("acc_remove_confirm"); return; }
        try {
          await api("/api/tech/staff/" + encodeURIComponent(p.id), {method: "DELETE", body: "{}"});
          say("staff-result", true, "acc_removed", p.id);
        } catch (e) { say("staff-result", false, refusal(e), "", e.message); }
        load();
      });
      acts.append(reset, " ", rm);
    }
    tr.append(td(p.id), td(p.name), td(t("role_" + p.role)), st, acts);
    return tr;
  }));
}

document.getElementById("reset").addEventListener("submit", async ev => {
  ev.preventDefault();
  const id = document.getElementById("reset-id").value, pin = document.getElementById("reset-pin");
  try {
    await api("/api/tech/staff/" + encodeURIComponent(id) + "/pin", {method: "POST", body: JSON.stringify({pin: pin.value})});
    say("staff-result", true, "acc_was_reset", id);
    ev.target.hidden = true;
  } catch (e) { say("staff-result", false, refusal(e), "", e.message); }
  pin.value = "";
  load();
});
document.getElementById("enrol").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target, id = document.getElementById("new-id").value.trim();
  const body = {id, name: document.getElementById("new-name").value.trim(), role: document.getElementById("new-role").value,
    pin: document.getElementById("new-pin").value};
  try {
    await api("/api/tech/staff", {method: "POST", body: JSON.stringify(body)});
    say("staff-result", true, "acc_added", id);
    f.reset();
  } catch (e) { say("staff-result", false, refusal(e), "", e.message); }
  document.getElementById("new-pin").value = "";
  load();
});
document.getElementById("official").addEventListener("submit", async ev => {
  ev.preventDefault();
  const id = document.getElementById("off-id").value.trim(), pin = document.getElementById("off-pin");
  try {
    await api("/api/tech/officials/" + encodeURIComponent(id) + "/pin", {method: "POST", body: JSON.stringify({pin: pin.value})});
    say("official-result", true, "off_done", id);
    ev.target.reset();
  } catch (e) { say("official-result", false, "acc_err_input", "", e.message); }
  pin.value = "";
  loadOfficials();
});
// The officials, with their lock-outs; a row's button fills the form.
let officials = [];
async function loadOfficials() {
  try { officials = await api("/api/tech/officials"); } catch (e) { return; }
  drawOfficials();
}
function drawOfficials() {
  document.querySelector("#official-list tbody").replaceChildren(...officials.map(o => {
    const tr = document.createElement("tr");
    tr.dataset.id = o.id;
    if (o.locked) tr.className = "locked";
    const td = (s) => { const c = document.createElement("td"); c.textContent = s; return c; };
    const st = td(o.locked ? t("acc_locked") : o.failures ? t("acc_failures").replace("{}", o.failures) : t("acc_ok"));
    st.className = "state"; st.dataset.locked = o.locked ? "true" : "false";
    const b = document.createElement("button");
    b.type = "button"; b.className = "small reset"; b.textContent = t("acc_reset");
    b.addEventListener("click", () => { document.getElementById("off-id").value = o.id; document.getElementById("off-pin").focus(); });
    const acts = document.createElement("td"); acts.append(b);
    tr.append(td(o.id), st, acts);
    return tr;
  }));
}
// The officials' part is there on an e-ID counter only.
api("/api/config").then(c => {
  document.getElementById("officials").hidden = !c.counter;
  if (c.counter) loadOfficials();
}).catch(() => {});
document.addEventListener("langchange", () => { draw(); drawOfficials(); resay(); });
load();
