// The technician's page of peripheral firmware: pick a peripheral and a
// signed release (from the appliance's firmware directory, or uploaded),
// start the update, which the daemon runs as a job, and follow it with a
// progress bar; refusals (another key, a downgrade, a damaged image) are
// said plainly.
Object.assign(TEXTS.zh, {fw_none: "本设备未配置可升级固件的外设", fw_peripheral: "外设", fw_release: "签名固件", fw_from_dir: "本机固件目录",
  fw_upload_instead: "（上传文件）", fw_manifest: "清单文件（.manifest）", fw_image: "固件映像", fw_start: "开始升级", fw_cancel: "停止",
  fw_note: "外设只接受其引导程序密钥签名的固件，不接受降级；新固件启动并应答后才确认，否则自动恢复旧固件。中断后再次升级会从已接收处继续。",
  fw_phase_connect: "连接外设", fw_phase_transfer: "传输固件", fw_phase_verify: "校验", fw_phase_activate: "激活", fw_phase_boot: "等待新固件启动",
  fw_phase_confirm: "确认", fw_phase_done: "完成", fw_done: "版本 {} 已安装并确认", fw_already: "版本 {} 已是当前固件",
  fw_refused_signature: "被拒绝：固件不是用本外设信任的密钥签名的", fw_refused_downgrade: "被拒绝：不能降级（安全计数器低于外设已存的）",
  fw_refused_class: "被拒绝：固件属于另一类外设", fw_refused_digest: "被拒绝：映像与清单不符（文件损坏）", fw_refused_too_large: "被拒绝：映像超过外设的槽位",
  fw_refused_malformed: "被拒绝：清单格式错误", fw_refused_reverted: "新固件未应答，外设已恢复旧固件", fw_refused_no_reply: "外设无应答：检查线缆后重试，将从中断处继续",
  fw_refused_cancelled: "已停止：再次升级将从中断处继续", fw_refused_other: "升级失败", fw_need_files: "请选择目录中的固件，或上传清单和映像"});
Object.assign(TEXTS.en, {fw_none: "No peripheral of this appliance takes a firmware update", fw_peripheral: "Peripheral", fw_release: "Signed release", fw_from_dir: "Appliance's firmware directory",
  fw_upload_instead: "(upload files)", fw_manifest: "Manifest (.manifest)", fw_image: "Image", fw_start: "Update", fw_cancel: "Stop",
  fw_note: "The peripheral takes only firmware signed with its bootloader's key, and no downgrade; the new firmware is confirmed once it answers, else the peripheral goes back to the old one. An interrupted update resumes where it stopped.",
  fw_phase_connect: "Connecting", fw_phase_transfer: "Sending the image", fw_phase_verify: "Verifying", fw_phase_activate: "Activating", fw_phase_boot: "Waiting for the new firmware",
  fw_phase_confirm: "Confirming", fw_phase_done: "Done", fw_done: "Version {} installed and confirmed", fw_already: "Version {} is installed already",
  fw_refused_signature: "Refused: the release is not signed with the key this peripheral trusts", fw_refused_downgrade: "Refused: a downgrade (its security counter is below the peripheral's)",
  fw_refused_class: "Refused: the release is for another kind of peripheral", fw_refused_digest: "Refused: the image does not match its manifest (damaged file)", fw_refused_too_large: "Refused: the image is larger than the peripheral's slot",
  fw_refused_malformed: "Refused: the manifest is malformed", fw_refused_reverted: "The new firmware did not answer: the peripheral went back to the old one", fw_refused_no_reply: "The peripheral does not answer: check the cable and update again, it resumes",
  fw_refused_cancelled: "Stopped: updating again resumes where it stopped", fw_refused_other: "The update failed", fw_need_files: "Pick a release of the directory, or upload its manifest and image"});
Object.assign(TEXTS.fr, {fw_none: "Aucun périphérique de cet appareil n'accepte de mise à jour", fw_peripheral: "Périphérique", fw_release: "Version signée", fw_from_dir: "Répertoire des micrologiciels de l'appareil",
  fw_upload_instead: "(envoyer des fichiers)", fw_manifest: "Manifeste (.manifest)", fw_image: "Image", fw_start: "Mettre à jour", fw_cancel: "Arrêter",
  fw_note: "Le périphérique n'accepte qu'un micrologiciel signé de la clé de son amorceur, et aucun retour en arrière ; le nouveau est confirmé quand il répond, sinon le périphérique revient à l'ancien. Une mise à jour interrompue reprend où elle s'est arrêtée.",
  fw_phase_connect: "Connexion", fw_phase_transfer: "Envoi de l'image", fw_phase_verify: "Vérification", fw_phase_activate: "Activation", fw_phase_boot: "Attente du nouveau micrologiciel",
  fw_phase_confirm: "Confirmation", fw_phase_done: "Terminé", fw_done: "Version {} installée et confirmée", fw_already: "La version {} est déjà installée",
  fw_refused_signature: "Refusé : la version n'est pas signée de la clé que ce périphérique reconnaît", fw_refused_downgrade: "Refusé : retour en arrière (compteur de sécurité inférieur à celui du périphérique)",
  fw_refused_class: "Refusé : la version est pour un autre type de périphérique", fw_refused_digest: "Refusé : l'image ne correspond pas à son manifeste (fichier abîmé)", fw_refused_too_large: "Refusé : l'image dépasse l'emplacement du périphérique",
  fw_refused_malformed: "Refusé : manifeste mal formé", fw_refused_reverted: "Le nouveau micrologiciel n'a pas répondu : le périphérique est revenu à l'ancien", fw_refused_no_reply: "Le périphérique ne répond pas : vérifier le câble et relancer, la mise à jour reprend",
  fw_refused_cancelled: "Arrêté : relancer reprend où la mise à jour s'est arrêtée", fw_refused_other: "La mise à jour a échoué", fw_need_files: "Choisir une version du répertoire, ou envoyer son manifeste et son image"});

let fwPoll = null;
let fwJob = null;

function b64(buf) {
  let s = "";
  const u = new Uint8Array(buf);
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
  return btoa(s);
}

async function fwLoad() {
  try {
    const st = await api("/api/tech/firmware");
    document.getElementById("fw-none").hidden = st.peripherals.length > 0;
    document.getElementById("fw-form").hidden = st.peripherals.length === 0;
    const per = document.getElementById("fw-peripheral");
    per.replaceChildren(...st.peripherals.map(p => new Option(p.name + " (" + p.port + ")", p.name)));
    const rel = document.getElementById("fw-release");
    rel.replaceChildren(rel.options[0], ...st.releases.map(r => new Option(r, r)));
    fwShow(st.job);
    if (st.job.state === "running") fwFollow();
  } catch (e) {}
}

function fwShow(j) {
  fwJob = j;
  const sec = document.getElementById("fw-job");
  if (!j || j.state === "idle") { sec.hidden = true; return; }
  sec.hidden = false;
  sec.dataset.state = j.state;
  document.getElementById("fw-phase").textContent = (j.peripheral || "") + " " + (j.version || "") + " — " + t("fw_phase_" + j.phase);
  const bar = document.getElementById("fw-progress");
  bar.max = j.total || 1; bar.value = j.sent;
  document.getElementById("fw-bytes").textContent = Math.floor(j.sent / 1024) + " / " + Math.floor(j.total / 1024) + " KiB (" +
    (j.total ? Math.floor(100 * j.sent / j.total) : 0) + "%)";
  document.getElementById("fw-cancel").hidden = j.state !== "running";
  document.getElementById("fw-start").disabled = j.state === "running";
  const res = document.getElementById("fw-result");
  res.hidden = j.state === "running";
  if (j.state === "done") {
    res.className = "result approved"; res.dataset.status = "done";
    res.textContent = t(j.already ? "fw_already" : "fw_done").replace("{}", j.version);
  } else if (j.state === "failed") {
    res.className = "result error"; res.dataset.status = "refused-" + (j.refusal || "other");
    res.textContent = t("fw_refused_" + (j.refusal || "other")) + (j.error ? " (" + j.error + ")" : "");
  }
}

function fwFollow() {
  if (fwPoll) return;
  fwPoll = setInterval(async () => {
    try {
      const j = await api("/api/tech/firmware/job");
      fwShow(j);
      if (j.state !== "running") { clearInterval(fwPoll); fwPoll = null; }
    } catch (e) {}
  }, 250);
}

document.getElementById("fw-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const body = {peripheral: document.getElementById("fw-peripheral").value};
  const res = document.getElementById("fw-result");
  const rel = document.getElementById("fw-release").value;
  if (rel) {
    body.release = rel;
  } else {
    const m = document.getElementById("fw-manifest").files[0], i = document.getElementById("fw-image").files[0];
    if (!m || !i) {
      document.getElementById("fw-job").hidden = false;
      res.hidden = false; res.className = "result error"; res.textContent = t("fw_need_files");
      return;
    }
    body.manifest = b64(await m.arrayBuffer());
    body.image = b64(await i.arrayBuffer());
  }
  try {
    fwShow(await api("/api/tech/firmware", {method: "POST", body: JSON.stringify(body)}));
    fwFollow();
  } catch (e) {
    document.getElementById("fw-job").hidden = false;
    res.hidden = false; res.className = "result error"; res.dataset.status = "error"; res.textContent = e.message;
  }
});
document.getElementById("fw-cancel").addEventListener("click", () => api("/api/tech/firmware/cancel", {method: "POST", body: "{}"}).catch(() => {}));
document.addEventListener("langchange", () => { if (fwJob) fwShow(fwJob); });
fwLoad();
