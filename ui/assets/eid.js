// The official's screen at the e-ID counter: sign in with one's own PIN,
// read the card, let the citizen look at the camera, then confirm or refuse.
// The session token lives in sessionStorage: closing the tab signs out of
// this browser, and the daemon ends idle sessions by itself.
Object.assign(TEXTS.zh, {eid_title: "身份证件柜台", nav_counter: "柜台", nav_verify: "核验网络身份码", official_id: "工号", pin: "PIN 码", sign_in: "登录",
  signed_in_as: "已登录：", sign_out: "退出", step_card: "读卡", step_face: "人脸", step_review: "核对", step_done: "完成", begin: "开始新的激活",
  mrz_hint: "护照或带芯片的证件：输入机读区信息或卡片访问号 (CAN)。居民身份证：直接放在读卡器上。", can: "卡片访问号 (CAN)", doc_number: "证件号码", birth_date: "出生日期 (YYMMDD)", expiry_date: "有效期至 (YYMMDD)",
  read_card: "读取证件", liveness: "活体检测", document: "证件", match_score: "比对分数", confirm: "确认激活", retry_face: "重新检测人脸", refuse_reason: "拒绝原因",
  reason_face_mismatch: "人脸不符", reason_liveness_failed: "活体检测未通过", reason_document_doubt: "证件存疑", reason_citizen_withdrew: "本人放弃", reason_other: "其他",
  refuse: "拒绝激活", activation_id: "激活编号",
  prompt_signin: "请登录", prompt_ready: "可以开始新的激活", prompt_card: "请把证件放在读卡器上", prompt_face: "请市民看向摄像头", prompt_review: "请核对结果后确认或拒绝",
  prompt_queued: "已确认并保存，等待平台（离线时会自动发送）", prompt_activated: "已激活", prompt_rejected: "平台拒绝了激活", prompt_refused: "已拒绝，证件数据已删除",
  challenge_turn_left: "请慢慢向左转头", challenge_turn_right: "请慢慢向右转头", pending: "进行中", passed: "通过", failed: "未通过",
  match_yes: "相符", match_no: "不符", verified: "芯片数据已验证", not_verified: "芯片数据未验证", threshold: "阈值",
  "no face found: look at the camera": "未检测到人脸：请看摄像头", "more than one face: only the citizen may be in view": "画面中有多张人脸：只能有本人",
  "face too small: move closer": "人脸太小：请靠近", "face too large: move back": "人脸太大：请后退", "face at the edge of the picture: move to the centre": "人脸在画面边缘：请移到中间",
  "picture blurred: hold still, or clean the lens": "画面模糊：请保持不动或清洁镜头", "too dark: add light in front of the face": "太暗：请增加面部光线",
  "too bright: avoid strong light on the face": "太亮：请避免强光", "part of the face is washed out: avoid glare or reflections": "部分面部过曝：请避免反光"});
Object.assign(TEXTS.en, {eid_title: "e-ID counter", nav_counter: "Counter", nav_verify: "Verify an e-ID code", official_id: "Official id", pin: "PIN", sign_in: "Sign in",
  signed_in_as: "Signed in:", sign_out: "Sign out", step_card: "Card", step_face: "Face", step_review: "Review", step_done: "Done", begin: "Start a new activation",
  mrz_hint: "Passport or chip card: enter the MRZ data or the card access number (CAN). Resident ID card: just lay it on the reader.", can: "Card access number (CAN)", doc_number: "Document number", birth_date: "Birth date (YYMMDD)", expiry_date: "Expiry date (YYMMDD)",
  read_card: "Read the card", liveness: "Liveness", document: "Document", match_score: "Match score", confirm: "Confirm the activation", retry_face: "Check the face again", refuse_reason: "Reason for refusing",
  reason_face_mismatch: "Face does not match", reason_liveness_failed: "Liveness failed", reason_document_doubt: "Doubt about the document", reason_citizen_withdrew: "Citizen withdrew", reason_other: "Other",
  refuse: "Refuse the activation", activation_id: "Activation",
  prompt_signin: "Sign in", prompt_ready: "Ready for a new activation", prompt_card: "Lay the card on the reader", prompt_face: "The citizen looks at the camera", prompt_review: "Review, then confirm or refuse",
  prompt_queued: "Confirmed and stored; waiting for the platform (sent when the network is back)", prompt_activated: "Activated", prompt_rejected: "The platform refused the activation", prompt_refused: "Refused; the card's data was deleted",
  challenge_turn_left: "Turn your head slowly to the left", challenge_turn_right: "Turn your head slowly to the right", pending: "in progress", passed: "passed", failed: "failed",
  match_yes: "match", match_no: "no match", verified: "chip data verified", not_verified: "chip data not verified", threshold: "threshold"});
Object.assign(TEXTS.fr, {eid_title: "Guichet e-ID", nav_counter: "Guichet", nav_verify: "Vérifier un code e-ID", official_id: "Identifiant agent", pin: "Code PIN", sign_in: "Se connecter",
  signed_in_as: "Connecté :", sign_out: "Se déconnecter", step_card: "Carte", step_face: "Visage", step_review: "Contrôle", step_done: "Terminé", begin: "Nouvelle activation",
  mrz_hint: "Passeport ou carte à puce : saisir la bande MRZ ou le numéro d'accès (CAN). Carte de résident : la poser sur le lecteur.", can: "Numéro d'accès de la carte (CAN)", doc_number: "N° du document", birth_date: "Date de naissance (AAMMJJ)", expiry_date: "Date d'expiration (AAMMJJ)",
  read_card: "Lire la carte", liveness: "Preuve de vie", document: "Document", match_score: "Score de correspondance", confirm: "Confirmer l'activation", retry_face: "Refaire le contrôle du visage", refuse_reason: "Motif du refus",
  reason_face_mismatch: "Le visage ne correspond pas", reason_liveness_failed: "Preuve de vie échouée", reason_document_doubt: "Doute sur le document", reason_citizen_withdrew: "Le citoyen renonce", reason_other: "Autre",
  refuse: "Refuser l'activation", activation_id: "Activation",
  prompt_signin: "Connectez-vous", prompt_ready: "Prêt pour une nouvelle activation", prompt_card: "Posez la carte sur le lecteur", prompt_face: "Le citoyen regarde la caméra", prompt_review: "Contrôlez, puis confirmez ou refusez",
  prompt_queued: "Confirmée et enregistrée ; en attente de la plateforme (envoyée au retour du réseau)", prompt_activated: "Activée", prompt_rejected: "La plateforme a refusé l'activation", prompt_refused: "Refusée ; les données de la carte sont effacées",
  challenge_turn_left: "Tournez lentement la tête vers la gauche", challenge_turn_right: "Tournez lentement la tête vers la droite", pending: "en cours", passed: "réussie", failed: "échouée",
  match_yes: "correspond", match_no: "ne correspond pas", verified: "données de la puce vérifiées", not_verified: "données de la puce non vérifiées", threshold: "seuil",
  "no face found: look at the camera": "Aucun visage : regardez la caméra", "more than one face: only the citizen may be in view": "Plusieurs visages : seul le citoyen doit être visible",
  "face too small: move closer": "Visage trop petit : approchez-vous", "face too large: move back": "Visage trop grand : reculez", "face at the edge of the picture: move to the centre": "Visage au bord de l'image : placez-vous au centre",
  "picture blurred: hold still, or clean the lens": "Image floue : ne bougez pas, ou nettoyez l'objectif", "too dark: add light in front of the face": "Trop sombre : éclairez le visage",
  "too bright: avoid strong light on the face": "Trop clair : évitez la lumière forte", "part of the face is washed out: avoid glare or reflections": "Visage en partie surexposé : évitez les reflets"});

const $ = id => document.getElementById(id);
let token = sessionStorage.getItem("eid-token") || "";
let screen = null;
let version = 0;
let lastError = "";

// call sends one step; the daemon answers {screen, error} even on failure,
// so the page always shows where the flow stands.
async function call(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
    body: body === undefined ? "" : JSON.stringify(body)});
  const b = await r.json().catch(() => ({}));
  if (r.status === 401 && path !== "/api/eid/signin") { signedOut(); }
  if (b.screen) render(b.screen);
  if (!r.ok) throw new Error(b.error || r.statusText);
  showError("");
  return b;
}

function showError(msg) {
  lastError = msg;
  $("error").hidden = !msg;
  $("error").textContent = msg ? t("error") + ": " + msg : "";
}

function signedOut() {
  token = "";
  sessionStorage.removeItem("eid-token");
  sessionStorage.removeItem("eid-official");
  $("signin").hidden = false;
  $("desk").hidden = true;
}

const order = ["card", "face", "review", "done"];
function render(sc) {
  screen = sc;
  const step = ["queued", "activated", "rejected", "refused"].includes(sc.step) ? "done" : sc.step;
  document.body.dataset.step = sc.step;
  if (!token || sc.step === "signin") { signedOut(); return; }
  $("signin").hidden = true;
  $("desk").hidden = false;
  $("who").textContent = sc.official || sessionStorage.getItem("eid-official") || "";
  document.querySelectorAll("#steps li").forEach(li => {
    const i = order.indexOf(li.dataset.step), now = order.indexOf(step);
    li.className = i === now ? "now" : (now > i ? "past" : "");
  });
  $("prompt").className = "result " + sc.step;
  $("prompt").textContent = t("prompt_" + sc.step);
  $("ready").hidden = sc.step !== "ready";
  $("card").hidden = sc.step !== "card";
  $("face").hidden = sc.step !== "face";
  $("review").hidden = sc.step !== "review";
  $("done").hidden = step !== "done";
  const live = sc.liveness || {};
  $("challenge").textContent = live.challenge ? t("challenge_" + live.challenge) : "";
  $("live-state").textContent = t(live.state || "pending");
  $("turn").value = Math.min(1, live.turn || 0);
  $("problems").replaceChildren(...(sc.problems || []).map(p => { const li = document.createElement("li"); li.textContent = t(p); return li; }));
  $("doc").textContent = (sc.document || "") + " · " + t(sc.verified ? "verified" : "not_verified");
  $("live").textContent = t(live.state || "pending") + (live.reason ? " · " + live.reason : "");
  $("score").textContent = sc.match ? sc.match.score.toFixed(3) + " (" + t("threshold") + " " + sc.match.threshold.toFixed(3) + ", " + sc.match.matcher + ") · " + t(sc.match.match ? "match_yes" : "match_no") : "—";
  $("score").dataset.match = sc.match ? String(sc.match.match) : "";
  $("confirm").disabled = !sc.can_confirm;
  $("act").textContent = sc.activation || "";
  if (sc.error && sc.error !== lastError) showError(sc.error);
}

async function poll() {
  for (;;) {
    try {
      const r = await fetch("/api/eid/screen?after=" + version);
      if (r.ok) {
        const b = await r.json();
        version = b.version;
        if (token) render(b.screen);
        continue;
      }
    } catch (e) { /* the daemon restarts: try again shortly */ }
    await new Promise(res => setTimeout(res, 1000));
  }
}

$("signin").addEventListener("submit", async ev => {
  ev.preventDefault();
  try {
    const b = await call("/api/eid/signin", {official: ev.target.official.value, pin: ev.target.pin.value});
    token = b.token;
    sessionStorage.setItem("eid-token", token);
    sessionStorage.setItem("eid-official", ev.target.official.value.trim());
    ev.target.pin.value = "";
    render(b.screen);
  } catch (e) { showError(e.message); }
});
const step = (id, path, body) => $(id).addEventListener("click", async () => {
  try { await call(path, body && body()); } catch (e) { showError(e.message); }
});
step("begin", "/api/eid/begin");
step("next", "/api/eid/begin");
step("retry", "/api/eid/retry");
step("confirm", "/api/eid/confirm");
$("signout").addEventListener("click", async () => { try { await call("/api/eid/signout"); } catch (e) { /* already out */ } signedOut(); });
$("card").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target;
  $("read").disabled = true;
  try {
    await call("/api/eid/card", {document_number: f.document_number.value, birth_date: f.birth_date.value, expiry_date: f.expiry_date.value, can: f.can.value});
    f.reset();
  } catch (e) { showError(e.message); } finally { $("read").disabled = false; }
});
$("refuse").addEventListener("submit", async ev => {
  ev.preventDefault();
  try { await call("/api/eid/refuse", {reason: ev.target.reason.value}); } catch (e) { showError(e.message); }
});
document.addEventListener("langchange", () => { if (screen) render(screen); showError(lastError); });
if (!token) signedOut();
fetch("/api/eid/screen").then(r => r.json()).then(b => { version = b.version; if (token) render(b.screen); }).catch(() => {}).finally(poll);
