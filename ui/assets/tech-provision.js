// The technician's page of enrolment: the one-time code from the platform
// (guichet-platform enrol-code), typed, pasted or scanned by the
// appliance's scanners or camera, enrols the box as `guichet provision`
// does; the daemon uses the enrolment after a restart, which the page asks
// for. The daemon reads the code again (ParseEnrolCode).
Object.assign(TEXTS.zh, {prov_none: "此设备不能在页面上注册：请使用 guichet provision", prov_code: "注册码（输入、粘贴或扫描二维码）",
  prov_scan_hint: "用扫码枪或摄像头扫描平台打印的二维码，注册码会自动填入。", prov_broker: "注册服务器", prov_ca: "服务器 CA 证书文件（本机路径，可选）",
  prov_force: "重新注册（替换现有注册）", prov_enrol: "注册", prov_enrolling: "正在注册…", prov_enrolled: "已注册", prov_not_enrolled: "未注册（使用配置文件中的服务器）",
  prov_done: "已注册为 {}：重启 guichetd（systemctl restart guichetd）后使用新注册连接平台", prov_scanned: "已扫描注册码",
  prov_bad_code: "注册码无效：应为 16 个字符（XXXX-XXXX-XXXX-XXXX）", prov_enrolled_already: "此设备已注册：如需替换，勾选“重新注册”",
  prov_refused: "平台拒绝了注册码", prov_untrusted: "注册服务器的证书不受信任：填写其 CA 证书文件", prov_unreachable: "无法连接注册服务器：检查网络和地址",
  prov_no_answer: "平台没有应答：检查平台是否运行", prov_busy: "另一个注册正在进行", prov_bad_request: "请求有误", prov_cancelled: "已取消",
  tenant: "租户", site: "门店/窗口", role: "角色", key_kind: "设备密钥"});
Object.assign(TEXTS.en, {prov_none: "This appliance cannot be enrolled from the page: use guichet provision", prov_code: "Enrolment code (type, paste or scan its QR code)",
  prov_scan_hint: "Scan the QR code the platform printed with a scanner or the camera: the code fills in by itself.", prov_broker: "Provisioning broker", prov_ca: "Broker's CA certificate file (path on the appliance, optional)",
  prov_force: "Enrol again (replaces the current enrolment)", prov_enrol: "Enrol", prov_enrolling: "Enrolling…", prov_enrolled: "Enrolled", prov_not_enrolled: "Not enrolled (brokers from the configuration file)",
  prov_done: "Enrolled as {}: restart guichetd (systemctl restart guichetd) to connect with the new enrolment", prov_scanned: "Code scanned",
  prov_bad_code: "Not an enrolment code: 16 characters (XXXX-XXXX-XXXX-XXXX)", prov_enrolled_already: "This appliance is enrolled already: tick \"enrol again\" to replace it",
  prov_refused: "The platform refused the code", prov_untrusted: "The provisioning broker's certificate is not trusted: give its CA certificate file", prov_unreachable: "The provisioning broker cannot be reached: check the network and the address",
  prov_no_answer: "The platform did not answer: is it running?", prov_busy: "Another enrolment is running", prov_bad_request: "Bad request", prov_cancelled: "Cancelled",
  tenant: "Tenant", site: "Shop or counter", role: "Role", key_kind: "Device key"});
Object.assign(TEXTS.fr, {prov_none: "Cet appareil ne s'enrôle pas depuis la page : utiliser guichet provision", prov_code: "Code d'enrôlement (saisi, collé ou son QR scanné)",
  prov_scan_hint: "Scanner le QR code imprimé par la plateforme avec un lecteur ou la caméra : le code se remplit tout seul.", prov_broker: "Serveur d'enrôlement", prov_ca: "Fichier du certificat d'AC du serveur (chemin sur l'appareil, facultatif)",
  prov_force: "Enrôler à nouveau (remplace l'enrôlement actuel)", prov_enrol: "Enrôler", prov_enrolling: "Enrôlement…", prov_enrolled: "Enrôlé", prov_not_enrolled: "Non enrôlé (serveurs du fichier de configuration)",
  prov_done: "Enrôlé comme {} : redémarrer guichetd (systemctl restart guichetd) pour se connecter avec le nouvel enrôlement", prov_scanned: "Code scanné",
  prov_bad_code: "Ce n'est pas un code d'enrôlement : 16 caractères (XXXX-XXXX-XXXX-XXXX)", prov_enrolled_already: "Cet appareil est déjà enrôlé : cocher « enrôler à nouveau » pour le remplacer",
  prov_refused: "La plateforme a refusé le code", prov_untrusted: "Le certificat du serveur d'enrôlement n'est pas reconnu : donner le fichier de son AC", prov_unreachable: "Le serveur d'enrôlement est injoignable : vérifier le réseau et l'adresse",
  prov_no_answer: "La plateforme n'a pas répondu : tourne-t-elle ?", prov_busy: "Un autre enrôlement est en cours", prov_bad_request: "Requête incorrecte", prov_cancelled: "Annulé",
  tenant: "Locataire", site: "Magasin ou guichet", role: "Rôle", key_kind: "Clé de l'appareil"});

let provState = null;
let provLast = null; // the last answer shown, redrawn on a language change

// looksLikeCode tells an enrolment code from anything else a scanner reads
// (a payment code, a receipt); the daemon has the last word.
function looksLikeCode(s) {
  const c = s.replace(/^\s*\][A-Za-z][0-9]/, "").replace(/[\s-]/g, "");
  return /^[0-9A-HJ-NP-Za-hj-np-z]{16}$/.test(c);
}

function provShowState(st) {
  provState = st;
  const rows = st.enrolled ? [["prov_enrolled", st.tenant + "/" + st.device], ["site", st.site], ["role", st.role], ["key_kind", st.key]]
                           : [["prov_enrolled", t("prov_not_enrolled")], ["device", st.device || "-"]];
  document.getElementById("prov-state").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = t(k);
    const dd = document.createElement("dd"); dd.textContent = v || "-"; dd.id = "prov-" + k;
    return [dt, dd];
  }));
  document.getElementById("prov-force-row").hidden = !st.enrolled;
  const b = document.getElementById("prov-broker");
  if (!b.value && st.broker) b.value = st.broker;
}

function provShowResult(a, status) {
  provLast = [a, status];
  const out = document.getElementById("prov-result");
  out.hidden = false;
  out.dataset.status = a.problem || "enrolled";
  if (!a.problem) {
    out.className = "result approved";
    out.textContent = t("prov_done").replace("{}", a.tenant + "/" + a.device + " (" + a.site + ", " + a.role + ")");
  } else {
    out.className = "result error";
    const key = a.problem === "enrolled" ? "prov_enrolled_already" : "prov_" + a.problem;
    out.textContent = t(key) + (a.error && a.problem !== "enrolled" ? " (" + a.error + ")" : "");
  }
}

async function provLoad() {
  try {
    provShowState(await api("/api/tech/provision"));
  } catch (e) {
    if (e.status === 404 || e.status === 405) {
      document.getElementById("prov-none").hidden = false;
      document.getElementById("prov-form").hidden = true;
    }
  }
}

// Scans: the codes read by the appliance's scanners and cameras fill the
// field when they look like an enrolment code.
async function provScans() {
  let after;
  try { after = (await api("/api/tech/scans")).n; } catch (e) { return; }
  for (;;) {
    try {
      const s = await api("/api/tech/scans?after=" + after);
      after = s.n;
      const text = s.code && s.code.text; // a codereader.Code: format, text, source
      if (text && looksLikeCode(text)) {
        document.getElementById("prov-code").value = text.trim().replace(/^\][A-Za-z][0-9]/, ""); // the scanner's symbology prefix
        const out = document.getElementById("prov-result");
        out.hidden = false; out.className = "result found"; out.dataset.status = "scanned"; out.textContent = t("prov_scanned");
      }
    } catch (e) {
      await new Promise(r => setTimeout(r, 2000));
    }
  }
}

document.getElementById("prov-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const code = document.getElementById("prov-code").value;
  const out = document.getElementById("prov-result");
  if (!looksLikeCode(code)) { provShowResult({problem: "bad_code"}); return; }
  const btn = document.getElementById("prov-submit");
  btn.disabled = true;
  out.hidden = false; out.className = "result sending"; out.dataset.status = "sending"; out.textContent = t("prov_enrolling");
  const body = {code, broker: document.getElementById("prov-broker").value.trim(), ca_file: document.getElementById("prov-ca").value.trim(),
                force: document.getElementById("prov-force").checked};
  try {
    const r = await fetch("/api/tech/provision", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const a = await r.json().catch(() => ({problem: "bad_request", error: r.statusText}));
    if (r.status === 401) { techSignIn(); return; }
    provShowResult(a, r.status);
    if (r.ok) provLoad();
  } catch (e) {
    provShowResult({problem: "unreachable", error: e.message});
  } finally {
    btn.disabled = false;
  }
});
document.addEventListener("langchange", () => { if (provState) provShowState(provState); if (provLast) provShowResult(...provLast); });
provLoad();
provScans();
