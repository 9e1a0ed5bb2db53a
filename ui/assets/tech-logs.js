// The technician's page of logs and of the queue: the daemon's last log
// records (their personal data redacted by the daemon), the records the
// platform rejected, which block the queue, with a button to move past one
// with a reason (audited), and the queue's audit trail.
Object.assign(TEXTS.zh, {logs_rejected: "被平台拒绝的记录", logs_rejected_none: "没有被拒绝的记录：队列正常", logs_seq: "序号", logs_reason: "原因",
  logs_skip: "跳过此记录", logs_skip_reason: "跳过原因（必填，记入审计）", logs_skipped: "记录 {} 已跳过，队列继续", logs_need_reason: "请填写跳过原因",
  logs_skip_note: "跳过后记录移出本机队列并记入审计；平台也须跳过同一记录（skip_rejected），其后的记录才会被处理。",
  logs_recent: "最近日志", logs_level: "级别", logs_msg: "消息", logs_attrs: "详情", logs_audit: "队列审计",
  logs_redacted_note: "个人数据（姓名、密码、付款码、证件数据）不显示。"});
Object.assign(TEXTS.en, {logs_rejected: "Records rejected by the platform", logs_rejected_none: "No rejected record: the queue moves", logs_seq: "Seq", logs_reason: "Reason",
  logs_skip: "Move past this record", logs_skip_reason: "Why (required, kept in the audit)", logs_skipped: "Record {} moved past: the queue goes on", logs_need_reason: "Say why the record is moved past",
  logs_skip_note: "A record moved past leaves this appliance's queue, with an audit entry; the platform's operator skips it too (skip_rejected) before the records after it are applied.",
  logs_recent: "Recent logs", logs_level: "Level", logs_msg: "Message", logs_attrs: "Details", logs_audit: "Queue audit",
  logs_redacted_note: "Personal data (names, PINs, payment codes, card data) is never shown."});
Object.assign(TEXTS.fr, {logs_rejected: "Enregistrements refusés par la plateforme", logs_rejected_none: "Aucun enregistrement refusé : la file avance", logs_seq: "N°", logs_reason: "Motif",
  logs_skip: "Passer cet enregistrement", logs_skip_reason: "Pourquoi (obligatoire, gardé dans l'audit)", logs_skipped: "Enregistrement {} passé : la file reprend", logs_need_reason: "Dire pourquoi l'enregistrement est passé",
  logs_skip_note: "Un enregistrement passé quitte la file de l'appareil, avec une entrée d'audit ; l'opérateur de la plateforme le passe aussi (skip_rejected) avant que les suivants soient appliqués.",
  logs_recent: "Journaux récents", logs_level: "Niveau", logs_msg: "Message", logs_attrs: "Détails", logs_audit: "Audit de la file",
  logs_redacted_note: "Les données personnelles (noms, codes PIN, codes de paiement, données de carte) ne sont jamais affichées."});

function whenLog(iso) {
  const d = iso ? new Date(iso) : null;
  return d && d.getFullYear() > 2000 ? d.toLocaleString(LANG) : "-";
}
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function showLogs() {
  try {
    const lv = document.getElementById("level").value;
    const res = await api("/api/tech/logs?level=" + encodeURIComponent(lv));
    document.querySelector("#logs tbody").replaceChildren(...res.records.map(r => {
      const tr = document.createElement("tr");
      tr.className = "log-" + String(r.level).toLowerCase();
      const attrs = Object.entries(r.attrs || {}).map(([k, v]) => k + "=" + v).join(" ");
      tr.append(cell(whenLog(r.time)), cell(r.level), cell(r.msg), cell(attrs, "attrs"));
      return tr;
    }));
  } catch (e) {}
}

async function showQueue() {
  try {
    const res = await api("/api/tech/rejected");
    const tbl = document.getElementById("rejected");
    tbl.hidden = res.rejected.length === 0;
    document.getElementById("rejected-none").hidden = res.rejected.length > 0;
    // Keep what the technician is typing across refreshes.
    const typed = {};
    tbl.querySelectorAll("input[data-seq]").forEach(i => { typed[i.dataset.seq] = i.value; });
    tbl.querySelector("tbody").replaceChildren(...res.rejected.map(r => {
      const tr = document.createElement("tr");
      tr.id = "rej-" + r.seq;
      const act = document.createElement("td");
      const reason = document.createElement("input");
      reason.dataset.seq = r.seq; reason.id = "reason-" + r.seq; reason.maxLength = 500;
      reason.placeholder = t("logs_skip_reason"); reason.value = typed[r.seq] || "";
      const b = document.createElement("button");
      b.type = "button"; b.id = "skip-" + r.seq; b.textContent = t("logs_skip");
      b.addEventListener("click", () => skip(r.outbox, r.seq, reason.value));
      act.append(reason, b);
      tr.append(cell(r.seq), cell(whenLog(r.at)), cell((r.code ? r.code + ": " : "") + r.reason), act);
      return tr;
    }));
    document.getElementById("audit").replaceChildren(...res.audit.map(a => {
      const li = document.createElement("li");
      li.textContent = whenLog(a.at) + " — " + a.event + (a.seq ? " #" + a.seq : "") + ": " + a.detail;
      return li;
    }));
  } catch (e) {}
}

async function skip(outbox, seq, reason) {
  const out = document.getElementById("skip-result");
  out.hidden = false;
  if (!reason.trim()) {
    out.className = "result error"; out.textContent = t("logs_need_reason");
    return;
  }
  try {
    await api("/api/tech/rejected/" + encodeURIComponent(outbox) + "/" + seq + "/skip", {method: "POST", body: JSON.stringify({reason})});
    out.className = "result approved"; out.dataset.status = "skipped";
    out.textContent = t("logs_skipped").replace("{}", seq);
  } catch (e) {
    out.className = "result error"; out.dataset.status = "error"; out.textContent = e.message;
  }
  showQueue();
}

function refresh() { showLogs(); showQueue(); }
document.getElementById("level").addEventListener("change", showLogs);
document.addEventListener("langchange", refresh);
refresh();
setInterval(refresh, 3000);
