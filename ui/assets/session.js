// The cashier's session on the pages that need one (cashier, day, split
// bill, status): who is signed in, with a sign-out button in the header; a
// 401 from the API leads to the sign-in screen (api in i18n.js); and the
// supervisor's PIN that refunds, voids and closing the day need.
window.SIGNIN_REDIRECT = true;
Object.assign(TEXTS.zh, {signin_title: "收银员登录", cashier_id: "收银员编号", pin: "PIN 码", sign_in: "登录", sign_out: "退出登录",
  supervisor_needed: "需要主管授权", supervisor_id: "主管编号", supervisor_pin: "主管 PIN 码", approve: "授权", cancel: "取消",
  bad_pin: "编号或 PIN 码错误", locked: "账户已锁定：请主管或技术员重置 PIN 码", action_refund: "退款", action_void: "撤销交易", action_close_day: "日结"});
Object.assign(TEXTS.en, {signin_title: "Cashier sign-in", cashier_id: "Cashier id", pin: "PIN", sign_in: "Sign in", sign_out: "Sign out",
  supervisor_needed: "A supervisor must approve", supervisor_id: "Supervisor id", supervisor_pin: "Supervisor's PIN", approve: "Approve", cancel: "Cancel",
  bad_pin: "Wrong id or PIN", locked: "Account locked: a supervisor or the technician must reset the PIN", action_refund: "Refund", action_void: "Void", action_close_day: "Close the day"});
Object.assign(TEXTS.fr, {signin_title: "Connexion du caissier", cashier_id: "Identifiant du caissier", pin: "Code PIN", sign_in: "Se connecter", sign_out: "Se déconnecter",
  supervisor_needed: "Un superviseur doit autoriser", supervisor_id: "Identifiant du superviseur", supervisor_pin: "Code PIN du superviseur", approve: "Autoriser", cancel: "Annuler",
  bad_pin: "Identifiant ou code PIN erroné", locked: "Compte verrouillé : un superviseur ou le technicien doit réinitialiser le PIN", action_refund: "Remboursement", action_void: "Annulation", action_close_day: "Clôture de la journée"});

// pinError says what a refused PIN means, in the page's language.
function pinError(e) { return e.status === 423 ? t("locked") : (e.status === 401 || e.status === 403) ? t("bad_pin") : e.message; }

(async function showWho() {
  const header = document.querySelector("header");
  const who = document.createElement("span");
  who.id = "who";
  const out = document.createElement("button");
  out.id = "signout"; out.type = "button"; out.className = "secondary"; out.dataset.i18n = "sign_out"; out.textContent = t("sign_out");
  out.addEventListener("click", async () => {
    await api("/api/signout", {method: "POST", body: "{}"}).catch(() => {});
    location.replace("signin.html?next=" + encodeURIComponent(location.pathname));
  });
  header.insertBefore(out, document.getElementById("lang"));
  header.insertBefore(who, out);
  try {
    const p = await api("/api/session");
    who.textContent = p.name + " (" + p.id + ")";
    who.dataset.id = p.id;
  } catch (e) {}
})();

// askSupervisor shows the supervisor's dialog for an action (a key of the
// texts) and resolves to {supervisor, supervisor_pin}, or null if the
// cashier cancels. The PIN goes to the API with the request; the API checks
// it, and counts it towards the supervisor's lock-out.
function askSupervisor(action) {
  let dlg = document.getElementById("supervisor");
  if (!dlg) {
    dlg = document.createElement("dialog");
    dlg.id = "supervisor";
    dlg.innerHTML = '<form method="dialog" id="svform"><h2 data-i18n="supervisor_needed"></h2><p id="svaction"></p>' +
      '<label><span data-i18n="supervisor_id"></span><input id="svid" autocomplete="off" required></label>' +
      '<label><span data-i18n="supervisor_pin"></span><input id="svpin" type="password" inputmode="numeric" autocomplete="off" required></label>' +
      '<div class="buttons"><button id="svok" value="ok" data-i18n="approve"></button>' +
      '<button id="svcancel" value="cancel" type="button" class="secondary" data-i18n="cancel"></button></div></form>';
    document.body.append(dlg);
    dlg.querySelector("#svcancel").addEventListener("click", () => dlg.close("cancel"));
    applyTexts();
  }
  dlg.querySelector("#svaction").textContent = t(action);
  dlg.querySelector("#svaction").dataset.i18n = action;
  dlg.querySelector("#svpin").value = "";
  dlg.returnValue = "";
  return new Promise(resolve => {
    dlg.addEventListener("close", () => {
      if (dlg.returnValue !== "ok") { resolve(null); return; }
      resolve({supervisor: dlg.querySelector("#svid").value.trim(), supervisor_pin: dlg.querySelector("#svpin").value});
      dlg.querySelector("#svpin").value = "";
    }, {once: true});
    dlg.showModal();
    dlg.querySelector(dlg.querySelector("#svid").value ? "#svpin" : "#svid").focus();
  });
}
