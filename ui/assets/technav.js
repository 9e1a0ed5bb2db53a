// The technician's screen is a set of pages, each with this script after
// i18n.js: it adds the pages' navigation to the header, the technician's
// name with a sign-out button, and sends a browser without a technician's
// session to tech-signin.html (and back after). A page sets
// window.TECH_PAGE to its own key before loading this script.
window.TECH_SIGNIN_REDIRECT = true;
const TECH_PAGES = [
  ["tech.html", "tech_nav_overview"],      // self-test, devices, queue and link, sync now, tamper
  ["tech-staff.html", "tech_nav_staff"],   // cashier, supervisor and official accounts
  ["tech-provision.html", "tech_nav_provision"], // enrolment code, typed or scanned
  ["tech-firmware.html", "tech_nav_firmware"],   // peripheral firmware update with progress
  ["tech-logs.html", "tech_nav_logs"],     // recent logs, rejected records
];
Object.assign(TEXTS.zh, {tech_title: "技术员", tech_nav_overview: "自检与设备", tech_nav_staff: "账户", tech_nav_provision: "注册设备",
  tech_nav_firmware: "外设固件", tech_nav_logs: "日志与队列", tech_sign_out: "退出登录"});
Object.assign(TEXTS.en, {tech_title: "Technician", tech_nav_overview: "Self-test and devices", tech_nav_staff: "Accounts", tech_nav_provision: "Enrolment",
  tech_nav_firmware: "Peripheral firmware", tech_nav_logs: "Logs and queue", tech_sign_out: "Sign out"});
Object.assign(TEXTS.fr, {tech_title: "Technicien", tech_nav_overview: "Autotest et périphériques", tech_nav_staff: "Comptes", tech_nav_provision: "Enrôlement",
  tech_nav_firmware: "Micrologiciel des périphériques", tech_nav_logs: "Journaux et file", tech_sign_out: "Se déconnecter"});

// techSignIn sends the browser to the technician's sign-in, to come back.
function techSignIn() {
  location.replace("tech-signin.html?next=" + encodeURIComponent(location.pathname + location.search));
}

(async function techFrame() {
  const header = document.querySelector("header");
  const nav = document.createElement("nav");
  nav.id = "technav";
  for (const [href, key] of TECH_PAGES) {
    const a = document.createElement("a");
    a.href = href; a.dataset.i18n = key; a.textContent = t(key);
    if (location.pathname.endsWith("/" + href)) a.setAttribute("aria-current", "page");
    nav.append(a);
  }
  const lang = document.getElementById("lang");
  header.insertBefore(nav, lang);
  const who = document.createElement("span");
  who.id = "who";
  const out = document.createElement("button");
  out.id = "signout"; out.type = "button"; out.className = "secondary"; out.dataset.i18n = "tech_sign_out"; out.textContent = t("tech_sign_out");
  out.addEventListener("click", async () => {
    await api("/api/signout", {method: "POST", body: "{}"}).catch(() => {});
    techSignIn();
  });
  header.insertBefore(out, lang);
  header.insertBefore(who, out);
  try {
    const p = await api("/api/session");
    if (p.role !== "technician") { techSignIn(); return; }
    who.textContent = p.name + " (" + p.id + ")";
    who.dataset.id = p.id;
  } catch (e) {
    if (e.status === 401) techSignIn();
  }
})();
