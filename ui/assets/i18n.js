// Texts of the UI in Chinese, English and French; the language is kept in
// localStorage per browser (each kiosk screen keeps its own).
const TEXTS = {
  zh: {pay_cash: "现金收款", scheme_cash: "现金", drawer_failed: "钱箱未打开，请用钥匙打开", receipt_ref: "小票号（扫描小票二维码）", find: "查找", day_payments: "今日交易", pick: "选择", refunded: "已退款", selected: "所选交易", cash_sales: "现金销售", wallet_sales: "电子钱包销售", cash_refunds: "现金退款", cash_drawer: "钱箱应有现金（不含备用金）", none_selected: "扫描小票二维码或从列表中选择交易", refund_left: "可退金额", print_receipt: "打印小票", printed: "小票已打印",
       nav_day: "日结", payment_id: "交易号", refund: "退款", void: "撤销", report: "今日报表", close_day: "日结", done: "完成", sales: "销售", refunds: "退款", voids: "撤销", net: "净额", offline_pending: "离线待确认", offline_declined: "离线被拒（商户损失）", closed: "已日结", business_day: "营业日", title: "收银台", nav_cashier: "收银", nav_customer: "顾客屏", nav_status: "状态", amount: "金额", code: "付款码",
       pay: "收款", show_qr: "显示收款码（顾客扫码）", qr_shown: "收款码已显示在顾客屏", recent: "最近交易", time: "时间", scheme: "方式", status: "状态", approved: "支付成功",
       declined: "支付失败", queued: "已保存，等待网络", sending: "处理中…", welcome: "欢迎光临", to_pay: "应付",
       queue: "待同步", online: "在线", offline: "离线", last_sync: "上次同步", sync_now: "立即同步",
       device: "设备", broker: "服务器", error: "错误",
       tamper: "防拆开关", tamper_locked_short: "已锁定，等待技术员解除", tamper_ok: "正常", tamper_open: "机箱已打开", tamper_alerted: "曾被打开（仅报警）",
       tamper_locked: "防拆开关被触发，已锁定：退款、撤销和电子身份激活需由技术员解除锁定",
       link: "连接", scheme_wechat_pay: "微信支付", scheme_alipay: "支付宝", scheme_unionpay: "银联", scheme_emvco_cpm: "EMV 二维码",
       nav_split: "分单收款", order_total: "订单总额", open_order: "开始分单", order_id: "订单号", paid_sum: "已收", pending_sum: "等待确认", remaining: "待收",
       part_amount: "本次金额", pay_part: "收取这部分", parts: "分单明细", code_tail: "付款码尾号", new_order: "新订单", order_paid: "订单已付清",
       parts_pending: "其余部分等待网络确认", above_remaining: "金额超过待收的 {}", user_paying: "等待顾客确认", reversed: "已冲正", approved_offline: "离线批准", over_limit: "离线，超出限额", voided: "已撤销"},
  en: {pay_cash: "Cash", scheme_cash: "Cash", drawer_failed: "the drawer did not open: open it with its key", receipt_ref: "Receipt reference (scan the receipt's QR code)", find: "Find", day_payments: "Today's payments", pick: "Select", refunded: "Refunded", selected: "Selected payment", cash_sales: "Cash sales", wallet_sales: "Wallet sales", cash_refunds: "Cash refunds", cash_drawer: "Cash in the drawer (beyond the float)", none_selected: "Scan the receipt's QR code or pick the payment in the list", refund_left: "Left to refund", print_receipt: "Print the receipt", printed: "Receipt printed",
       nav_day: "Day", payment_id: "Payment id", refund: "Refund", void: "Void", report: "Today's report", close_day: "Close the day", done: "Done", sales: "Sales", refunds: "Refunds", voids: "Voids", net: "Net", offline_pending: "Offline, pending", offline_declined: "Offline, declined later: shop's loss", closed: "Closed", business_day: "Business day", title: "Checkout", nav_cashier: "Cashier", nav_customer: "Customer screen", nav_status: "Status", amount: "Amount",
       code: "Payment code", pay: "Take payment", show_qr: "Show the shop's QR (customer scans)", qr_shown: "QR code shown on the customer screen", recent: "Recent payments", time: "Time", scheme: "Wallet",
       status: "Status", approved: "Paid", declined: "Declined", queued: "Saved, waiting for the network",
       sending: "Processing…", welcome: "Welcome", to_pay: "To pay", queue: "Waiting to sync", online: "Online",
       offline: "Offline", last_sync: "Last sync", sync_now: "Sync now", device: "Device", broker: "Broker", error: "Error",
       tamper: "Tamper switch", tamper_locked_short: "Locked until a technician clears it", tamper_ok: "Closed", tamper_open: "Case open", tamper_alerted: "Was opened (alert only)",
       tamper_locked: "Locked after the tamper switch opened: refunds, voids and e-ID activations wait until a technician clears it",
       link: "Link", scheme_wechat_pay: "WeChat Pay", scheme_alipay: "Alipay", scheme_unionpay: "UnionPay", scheme_emvco_cpm: "EMV QR",
       nav_split: "Split bill", order_total: "Order total", open_order: "Start the split bill", order_id: "Order", paid_sum: "Paid", pending_sum: "Waiting for an answer", remaining: "Left to pay",
       part_amount: "Amount of this part", pay_part: "Take this part", parts: "Parts", code_tail: "Code ends", new_order: "New order", order_paid: "Order paid",
       parts_pending: "The rest waits for the network", above_remaining: "the amount is more than the {} left to pay", user_paying: "Waiting for the customer", reversed: "Reversed", approved_offline: "Approved offline", over_limit: "offline, over the limit", voided: "Voided"},
  fr: {pay_cash: "Espèces", scheme_cash: "Espèces", drawer_failed: "le tiroir ne s'est pas ouvert : l'ouvrir avec sa clé", receipt_ref: "Référence du ticket (scanner le QR du ticket)", find: "Chercher", day_payments: "Paiements du jour", pick: "Choisir", refunded: "Remboursé", selected: "Paiement choisi", cash_sales: "Ventes en espèces", wallet_sales: "Ventes par portefeuille", cash_refunds: "Remboursements en espèces", cash_drawer: "Espèces dans le tiroir (hors fond de caisse)", none_selected: "Scanner le QR du ticket ou choisir le paiement dans la liste", refund_left: "Reste à rembourser", print_receipt: "Imprimer le ticket", printed: "Ticket imprimé",
       nav_day: "Journée", payment_id: "N° de paiement", refund: "Rembourser", void: "Annuler", report: "Rapport du jour", close_day: "Clôturer la journée", done: "Fait", sales: "Ventes", refunds: "Remboursements", voids: "Annulations", net: "Net", offline_pending: "Hors ligne, en attente", offline_declined: "Hors ligne, refusés ensuite : perte du magasin", closed: "Clôturée", business_day: "Journée comptable", title: "Caisse", nav_cashier: "Caisse", nav_customer: "Écran client", nav_status: "État", amount: "Montant",
       code: "Code de paiement", pay: "Encaisser", show_qr: "Afficher le QR du magasin (le client scanne)", qr_shown: "QR affiché sur l'écran client", recent: "Derniers paiements", time: "Heure", scheme: "Portefeuille",
       status: "État", approved: "Payé", declined: "Refusé", queued: "Enregistré, en attente du réseau",
       sending: "En cours…", welcome: "Bienvenue", to_pay: "À payer", queue: "En attente de synchronisation",
       online: "En ligne", offline: "Hors ligne", last_sync: "Dernière synchro", sync_now: "Synchroniser",
       device: "Appareil", broker: "Serveur", error: "Erreur",
       tamper: "Contact d'ouverture", tamper_locked_short: "Verrouillé jusqu'au déverrouillage par un technicien", tamper_ok: "Fermé", tamper_open: "Boîtier ouvert", tamper_alerted: "Ouvert (alerte seulement)",
       tamper_locked: "Verrouillé après l'ouverture du boîtier : remboursements, annulations et activations e-ID attendent qu'un technicien le déverrouille",
       link: "Liaison", scheme_wechat_pay: "WeChat Pay", scheme_alipay: "Alipay", scheme_unionpay: "UnionPay", scheme_emvco_cpm: "QR EMV",
       nav_split: "Addition partagée", order_total: "Total de la commande", open_order: "Commencer le partage", order_id: "Commande", paid_sum: "Payé", pending_sum: "En attente de réponse", remaining: "Reste à payer",
       part_amount: "Montant de cette part", pay_part: "Encaisser cette part", parts: "Parts", code_tail: "Fin du code", new_order: "Nouvelle commande", order_paid: "Commande payée",
       parts_pending: "Le reste attend le réseau", above_remaining: "le montant dépasse les {} restant à payer", user_paying: "En attente du client", reversed: "Contre-passé", approved_offline: "Approuvé hors ligne", over_limit: "hors ligne, au-delà de la limite", voided: "Annulé"},
};
// What the customer screen says of each status (screen_*), the shop's
// QR orders (qr_*) and the ends of a payment the cashier follows.
Object.assign(TEXTS.zh, {screen_approved: "支付成功", screen_declined: "支付失败", screen_queued: "处理中，请稍候", screen_approved_offline: "支付成功",
  screen_user_paying: "请在手机上确认付款", screen_reversed: "支付已取消，未扣款", screen_voided: "交易已撤销",
  screen_qr_open: "请扫码支付", screen_qr_paid: "支付成功", screen_qr_expired: "收款码已过期", screen_qr_cancelled: "收款码已取消",
  qr_open: "收款码已显示，等待顾客支付", qr_sent: "收款码已显示，等待顾客支付", qr_paid: "收款码已支付", qr_expired: "收款码已过期",
  qr_cancelled: "收款码已取消", cancel_qr: "取消收款码", not_confirmed: "顾客未确认：未扣款", shop_loss: "商户损失",
  scheme_merchant_qr: "商户收款码", qr_ended: "未支付的收款码"});
Object.assign(TEXTS.en, {screen_approved: "Payment successful", screen_declined: "Payment declined", screen_queued: "Processing, please wait", screen_approved_offline: "Payment successful",
  screen_user_paying: "Please confirm the payment on your phone", screen_reversed: "Payment cancelled: you were not charged", screen_voided: "Payment cancelled",
  screen_qr_open: "Scan to pay", screen_qr_paid: "Payment successful", screen_qr_expired: "This code has expired", screen_qr_cancelled: "This code was cancelled",
  qr_open: "QR shown, waiting for the customer to pay", qr_sent: "QR shown, waiting for the customer to pay", qr_paid: "QR paid", qr_expired: "QR expired, not paid",
  qr_cancelled: "QR cancelled", cancel_qr: "Cancel the QR", not_confirmed: "customer did not confirm: not charged", shop_loss: "shop's loss",
  scheme_merchant_qr: "Shop's QR", qr_ended: "QR codes not paid"});
Object.assign(TEXTS.fr, {screen_approved: "Paiement accepté", screen_declined: "Paiement refusé", screen_queued: "Traitement en cours, patientez", screen_approved_offline: "Paiement accepté",
  screen_user_paying: "Confirmez le paiement sur votre téléphone", screen_reversed: "Paiement annulé : vous n'avez pas été débité", screen_voided: "Paiement annulé",
  screen_qr_open: "Scannez pour payer", screen_qr_paid: "Paiement accepté", screen_qr_expired: "Ce code a expiré", screen_qr_cancelled: "Ce code a été annulé",
  qr_open: "QR affiché, en attente du paiement du client", qr_sent: "QR affiché, en attente du paiement du client", qr_paid: "QR payé", qr_expired: "QR expiré, non payé",
  qr_cancelled: "QR annulé", cancel_qr: "Annuler le QR", not_confirmed: "le client n'a pas confirmé : non débité", shop_loss: "perte du magasin",
  scheme_merchant_qr: "QR du magasin", qr_ended: "QR non payés"});
// The status page's peripherals (internal/daemon DeviceState).
Object.assign(TEXTS.zh, {devices: "外设", appliance_degraded: "设备异常：请检查下列外设", state_ok: "正常", state_degraded: "异常",
  dev_code_readers: "扫码器", dev_card_reader: "读卡器", dev_display: "显示屏", dev_gpio: "指示灯与开关", dev_printer: "打印机",
  hint_gone: "无响应：请检查线缆和电源", hint_garbage: "数据无法识别：请检查设置（波特率、模式）", hint_paper: "缺纸"});
Object.assign(TEXTS.en, {devices: "Peripherals", appliance_degraded: "Degraded: check the peripherals below", state_ok: "OK", state_degraded: "degraded",
  dev_code_readers: "Scanner", dev_card_reader: "Card reader", dev_display: "Display", dev_gpio: "Lights and switches", dev_printer: "Printer",
  hint_gone: "not answering: check its cable and power", hint_garbage: "sends unreadable data: check its settings (baud rate, mode)", hint_paper: "out of paper"});
Object.assign(TEXTS.fr, {devices: "Périphériques", appliance_degraded: "Mode dégradé : vérifier les périphériques ci-dessous", state_ok: "OK", state_degraded: "en défaut",
  dev_code_readers: "Lecteur de codes", dev_card_reader: "Lecteur de cartes", dev_display: "Afficheur", dev_gpio: "Voyants et contacts", dev_printer: "Imprimante",
  hint_gone: "ne répond pas : vérifier le câble et l'alimentation", hint_garbage: "envoie des données illisibles : vérifier ses réglages (débit, mode)", hint_paper: "plus de papier"});
let LANG = localStorage.getItem("lang") || "zh";
function t(key) { return (TEXTS[LANG] && TEXTS[LANG][key]) || TEXTS.en[key] || key.replace(/^scheme_/, ""); }
function applyTexts() {
  document.documentElement.lang = LANG;
  document.querySelectorAll("[data-i18n]").forEach(el => { el.textContent = t(el.dataset.i18n); });
  const sel = document.getElementById("lang");
  if (sel) sel.value = LANG;
}
function setLang(l) { LANG = l; localStorage.setItem("lang", l); applyTexts(); document.dispatchEvent(new Event("langchange")); }
// Pages open in other windows of the kiosk browser (the customer screen)
// follow the language the cashier chooses.
window.addEventListener("storage", ev => { if (ev.key === "lang" && ev.newValue && TEXTS[ev.newValue]) setLang(ev.newValue); });
document.addEventListener("DOMContentLoaded", () => {
  const sel = document.getElementById("lang");
  if (sel) sel.addEventListener("change", () => setLang(sel.value));
  applyTexts();
});
// api calls the local API. A request that changes something is JSON, as
// the API requires; a page of the cashier's (session.js) that the API
// answers 401 goes to the sign-in screen and comes back after.
async function api(path, opts) {
  opts = opts || {};
  if (opts.method && opts.method !== "GET") opts.headers = Object.assign({"Content-Type": "application/json"}, opts.headers);
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({}));
  if (r.status === 401 && window.TECH_SIGNIN_REDIRECT) {
    techSignIn(); // technav.js: the technician's pages
  } else if ((r.status === 401 || r.status === 403 && body.error && body.error.startsWith("technician:")) && window.SIGNIN_REDIRECT) {
    // No session, or a technician's on the till's pages: the cashier signs in.
    location.replace("signin.html?next=" + encodeURIComponent(location.pathname + location.search));
  }
  if (!r.ok) { const e = new Error(body.error || r.statusText); e.status = r.status; throw e; }
  return body;
}

// decimals is the number of digits of the minor unit of an ISO 4217
// currency, from the browser's CLDR data as the daemon's
// golang.org/x/text/currency has it: 2 for CNY, 0 for JPY, 3 for BHD.
function decimals(cur) {
  try {
    return new Intl.NumberFormat("en", {style: "currency", currency: cur}).resolvedOptions().maximumFractionDigits;
  } catch (e) {
    return 2; // as the daemon, for an unknown code
  }
}

// formatMinor writes v minor units of cur with its decimals: 1234 is
// "12.34" in CNY, "1234" in JPY, "1.234" in BHD.
function formatMinor(v, cur) {
  const d = decimals(cur), sign = v < 0 ? "-" : "", a = Math.abs(v);
  if (d === 0) return sign + a;
  const p = 10 ** d;
  return sign + Math.floor(a / p) + "." + String(a % p).padStart(d, "0");
}

// parseMinor reads an amount typed in cur into its minor units, or null
// if the page cannot tell; the API has the last word on amounts.
function parseMinor(s, cur) {
  const d = decimals(cur);
  const m = (d === 0 ? /^\s*(\d{1,12})\s*$/ : new RegExp("^\\s*(\\d{1,12})(?:\\.(\\d{1," + d + "}))?\\s*$")).exec(s);
  return m ? Number(m[1]) * 10 ** d + Number((m[2] || "").padEnd(d, "0")) : null;
}
// isReceiptRef tells a receipt's reference (its QR code, the payment's
// id) from a payment code; the daemon checks it again (checkout.ParseReference).
function isReceiptRef(s) { return /^\s*pay-[0-9a-f]{13}-[0-9a-f]{12}\s*$/i.test(s); }
// reasonText translates the reasons the device itself gives; the
// platform's reasons are shown as they come.
function reasonText(r) {
  if (r === "offline, over the limit") return t("over_limit");
  if (r === "no confirmation from the customer in time") return t("not_confirmed");
  return r;
}
