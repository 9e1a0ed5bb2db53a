// Verifying the e-ID code a citizen shows on a phone (a hotel desk, an
// airline counter): offline, against the key set and revocation list the
// platform pushed. A scanner in keyboard mode types the code and Enter.
Object.assign(TEXTS.zh, {qr_text: "扫描或粘贴身份码", check: "核验", level: "级别", subject: "账户（匿名）", expires: "有效期至", revocations_as_of: "吊销列表日期",
  valid: "有效", invalid: "无效", level_full: "完整（柜台激活）", level_limited: "有限",
  nav_counter: "柜台", nav_verify: "核验网络身份码", reason_expired: "已过期", reason_revoked: "已吊销", reason_bad_signature: "签名无效（被篡改或他人签发）", reason_unknown_kid: "未知签名密钥", reason_bad_prefix: "不是网络身份码", reason_too_big: "内容过大",
  reason_bad_base45: "编码错误", reason_decompress: "内容损坏", reason_malformed_cose: "格式错误", reason_malformed_claims: "内容格式错误", reason_key_not_valid: "签名密钥不在有效期内", reason_not_yet_valid: "尚未生效", reason_stale_revocations: "吊销列表缺失或过旧，请联网同步", reason_wrong_level: "级别不足"});
Object.assign(TEXTS.en, {qr_text: "Scan or paste the e-ID code", check: "Verify", level: "Level", subject: "Account (pseudonym)", expires: "Expires", revocations_as_of: "Revocation list of",
  valid: "Valid", invalid: "Refused", level_full: "full (activated at a counter)", level_limited: "limited",
  nav_counter: "Counter", nav_verify: "Verify an e-ID code", reason_expired: "expired", reason_revoked: "revoked", reason_bad_signature: "bad signature (altered, or signed by someone else)", reason_unknown_kid: "unknown signing key", reason_bad_prefix: "not an e-ID code", reason_too_big: "too big",
  reason_bad_base45: "bad encoding", reason_decompress: "damaged content", reason_malformed_cose: "malformed", reason_malformed_claims: "malformed content", reason_key_not_valid: "signing key outside its period", reason_not_yet_valid: "not yet valid", reason_stale_revocations: "revocation list missing or too old: sync first", reason_wrong_level: "level too low"});
Object.assign(TEXTS.fr, {qr_text: "Scannez ou collez le code e-ID", check: "Vérifier", level: "Niveau", subject: "Compte (pseudonyme)", expires: "Expire le", revocations_as_of: "Liste de révocation du",
  valid: "Valide", invalid: "Refusé", level_full: "complet (activé au guichet)", level_limited: "limité",
  nav_counter: "Guichet", nav_verify: "Vérifier un code e-ID", reason_expired: "expiré", reason_revoked: "révoqué", reason_bad_signature: "signature invalide (altéré, ou signé par un autre)", reason_unknown_kid: "clé de signature inconnue", reason_bad_prefix: "pas un code e-ID", reason_too_big: "trop grand",
  reason_bad_base45: "encodage invalide", reason_decompress: "contenu endommagé", reason_malformed_cose: "mal formé", reason_malformed_claims: "contenu mal formé", reason_key_not_valid: "clé hors de sa période", reason_not_yet_valid: "pas encore valide", reason_stale_revocations: "liste de révocation absente ou trop ancienne : synchronisez", reason_wrong_level: "niveau insuffisant"});

let verdict = null;
function showVerdict(v) {
  verdict = v;
  const el = document.getElementById("verdict");
  el.className = "result " + (v.valid ? "valid" : "invalid");
  el.dataset.valid = String(v.valid);
  el.dataset.reason = v.reason || "";
  el.textContent = v.valid ? t("valid") : t("invalid") + " · " + t("reason_" + v.reason) + (v.detail ? " (" + v.detail + ")" : "");
  document.getElementById("details").hidden = !v.valid;
  document.getElementById("level").textContent = v.level ? t("level_" + v.level) : "";
  document.getElementById("subject").textContent = v.subject || "";
  document.getElementById("expires").textContent = v.expires || "";
  document.getElementById("revas").textContent = v.revocations_as_of || "—";
}
document.getElementById("verify").addEventListener("submit", async ev => {
  ev.preventDefault();
  try {
    showVerdict(await api("/api/eid/verify", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: ev.target.text.value.trim()})}));
    ev.target.text.select();
  } catch (e) {
    showVerdict({valid: false, reason: "", detail: e.message});
  }
});
// A scanner ends the code with Enter: verify at once rather than add a line.
document.getElementById("text").addEventListener("keydown", ev => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); document.getElementById("verify").requestSubmit(); }
});
document.addEventListener("langchange", () => { if (verdict) showVerdict(verdict); });
