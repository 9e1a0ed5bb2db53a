// The cashier's sign-in: id and PIN give a session cookie (HttpOnly, so
// no script here or elsewhere reads it), then the page asked for.
Object.assign(TEXTS.zh, {signin_title: "收银员登录", cashier_id: "收银员编号", pin: "PIN 码", sign_in: "登录",
  bad_pin: "编号或 PIN 码错误", locked: "账户已锁定：请主管或技术员重置 PIN 码"});
Object.assign(TEXTS.en, {signin_title: "Cashier sign-in", cashier_id: "Cashier id", pin: "PIN", sign_in: "Sign in",
  bad_pin: "Wrong id or PIN", locked: "Account locked: a supervisor or the technician must reset the PIN"});
Object.assign(TEXTS.fr, {signin_title: "Connexion du caissier", cashier_id: "Identifiant du caissier", pin: "Code PIN", sign_in: "Se connecter",
  bad_pin: "Identifiant ou code PIN erroné", locked: "Compte verrouillé : un superviseur ou le technicien doit réinitialiser le PIN"});

const form = document.getElementById("signin");
const result = document.getElementById("result");

// next is the page to go back to: a path of this appliance only.
function next() {
  const n = new URLSearchParams(location.search).get("next") || "";
  return /^\/[A-Za-z0-9_.\-\/]*(\?[A-Za-z0-9=&%_.\-]*)?$/.test(n) && !n.startsWith("//") ? n : "index.html";
}

form.addEventListener("submit", async ev => {
  ev.preventDefault();
  result.className = "result"; result.textContent = ""; delete result.dataset.status;
  try {
    await api("/api/signin", {method: "POST", body: JSON.stringify({cashier: form.cashier.value.trim(), pin: form.pin.value})});
    location.replace(next());
  } catch (e) {
    form.pin.value = "";
    result.className = "result error";
    result.dataset.status = e.status === 423 ? "locked" : "refused";
    result.textContent = e.status === 423 ? t("locked") : e.status === 401 ? t("bad_pin") : t("error") + ": " + e.message;
  }
});
