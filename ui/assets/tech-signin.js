// The technician's sign-in: a technician's id and PIN (POST
// /api/tech/signin, which refuses a cashier's, a supervisor's or an
// official's account) give a session cookie, then the technician's page
// asked for (next, a path of this appliance only).
Object.assign(TEXTS.zh, {tech_signin_title: "技术员登录", tech_id: "技术员编号", pin: "PIN 码", sign_in: "登录",
  tech_signin_note: "仅限技术员账户；收银员和办事员请在各自的页面登录。", tech_to_till: "收银员登录",
  tech_bad_pin: "编号或 PIN 码错误", tech_locked: "账户已锁定：请在设备上重置（guichet cashier reset）",
  tech_not_technician: "这不是技术员账户：收银员和主管请在收银员登录页面登录"});
Object.assign(TEXTS.en, {tech_signin_title: "Technician sign-in", tech_id: "Technician id", pin: "PIN", sign_in: "Sign in",
  tech_signin_note: "Technicians' accounts only; cashiers and officials sign in on their own pages.", tech_to_till: "Cashier sign-in",
  tech_bad_pin: "Wrong id or PIN", tech_locked: "Account locked: reset it on the appliance (guichet cashier reset)",
  tech_not_technician: "This is not a technician's account: cashiers and supervisors sign in on the cashier's sign-in"});
Object.assign(TEXTS.fr, {tech_signin_title: "Connexion du technicien", tech_id: "Identifiant du technicien", pin: "Code PIN", sign_in: "Se connecter",
  tech_signin_note: "Comptes de technicien uniquement ; caissiers et agents se connectent sur leurs propres pages.", tech_to_till: "Connexion du caissier",
  tech_bad_pin: "Identifiant ou code PIN erroné", tech_locked: "Compte verrouillé : le réinitialiser sur l'appareil (guichet cashier reset)",
  tech_not_technician: "Ce n'est pas un compte de technicien : caissiers et superviseurs se connectent sur la page du caissier"});

const form = document.getElementById("signin");
const result = document.getElementById("result");

// next is the technician's page to go back to: a path of this appliance
// only, never another site's ("//host", "https:...", "javascript:").
function next() {
  const n = new URLSearchParams(location.search).get("next") || "";
  return /^\/[A-Za-z0-9_.\-\/]*(\?[A-Za-z0-9=&%_.\-]*)?$/.test(n) && !n.startsWith("//") ? n : "tech.html";
}

// refusal keeps the last refusal's key, so that a change of language
// translates it.
let refusal = "";
function showRefusal() { if (refusal) result.textContent = t(refusal); }
document.addEventListener("langchange", showRefusal);

form.addEventListener("submit", async ev => {
  ev.preventDefault();
  result.className = "result"; result.textContent = ""; delete result.dataset.status; refusal = "";
  try {
    const r = await fetch("/api/tech/signin", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({technician: form.technician.value.trim(), pin: form.pin.value})});
    const body = await r.json().catch(() => ({}));
    if (r.ok) { location.replace(next()); return; }
    form.pin.value = "";
    result.className = "result error";
    if (r.status === 423) { refusal = "tech_locked"; result.dataset.status = "locked"; }
    else if (r.status === 403) { refusal = "tech_not_technician"; result.dataset.status = "not_technician"; }
    else if (r.status === 401) { refusal = "tech_bad_pin"; result.dataset.status = "refused"; }
    else { result.dataset.status = "error"; result.textContent = t("error") + ": " + (body.error || r.statusText); return; }
    showRefusal();
  } catch (e) {
    result.className = "result error"; result.dataset.status = "error"; result.textContent = t("error") + ": " + e.message;
  }
});
