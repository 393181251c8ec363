import { h } from "./dom.js";

/** The meaning of every code (from the hub's policy), folded away under a summary line. */
export function legend(config, open = false) {
  return h("details.legend", { open }, h("summary", { text: "Arti kode" }),
    h("dl", {}, config.legenda.map((x) => [h("dt", {}, codeBadge(x.kode)), h("dd", { text: x.arti })])));
}

const TONE = [[/^HADIR$/, "ok"], [/^(CUTI|DL)$/, "info"], [/^TK$/, "bad"], [/^BELUM/, "wait"], [/^LIBUR$/, "off"]];

export function codeTone(code) {
  if (!code) return "off";
  const hit = TONE.find(([re]) => re.test(code));
  if (hit) return hit[1];
  return /TL|PSW/.test(code) ? "warn" : "info";
}

// The day's states that are not regulation codes are said in words (officers never read BELUM_HADIR); the
// codes of the TPP rules (TL1, PSW4, TK, CUTI, DL ...) stay as the regulation writes them.
const WORDS = { BELUM: "Belum mulai", BELUM_HADIR: "Belum hadir", BELUM_PULANG: "Belum pulang" };

/** A code as an officer reads it: "TL1 + Belum pulang" for TL1+BELUM_PULANG. */
export function codeLabel(code) {
  return code === "+" || code === "*" ? code : code.split("+").map((c) => WORDS[c] || c).join(" + ");
}

/** A code as a badge; `provisional` adds the asterisk of the legend. */
export function codeBadge(code, provisional = false) {
  // A line may break after each "+" of a combined code, nowhere else.
  const parts = (codeLabel(code) + (provisional ? "*" : "")).split(" + ")
    .flatMap((p, i) => (i ? [" + ", h("wbr"), p] : [p]));
  return h(`span.code.${codeTone(code)}`, { dataset: { code }, title: provisional
    ? "sementara: dapat berubah sampai jendela presensi pulang ditutup" : undefined }, parts);
}

// Where a column per day leaves little room (the month grid, the calendar) long codes are shortened.
const SHORT = { HADIR: "H", BELUM_HADIR: "BH", BELUM_PULANG: "BP", BELUM: "·" };
export const SHORT_NOTE = "H = hadir, BH = belum hadir, BP = belum pulang, · = belum dimulai, – = bukan hari kerja";

export function shortCode(code) {
  return code.split("+").map((c) => SHORT[c] || c).join(" ");
}
