// Kehadiran saya: an employee's own days and TPP (the API refuses anyone else's).
import { api } from "../api.js";
import { clear, h, notice } from "../dom.js";
import { shiftMonth } from "../format.js";
import { employeeDetail } from "../employee.js";
import { legend } from "../legend.js";

export function render(el, ctx) {
  const nip = ctx.config.pengguna.nip;
  const month = ctx.params.get("bulan");
  const controls = h("div.controls");
  const body = h("div");
  clear(el, h("h1", { text: "Kehadiran saya" }), controls, body, legend(ctx.config));

  async function load() {
    try {
      const data = await api(`/view/employee/${encodeURIComponent(nip)}${month ? `?month=${month}` : ""}`);
      clear(controls,
        h("button", { type: "button", text: "‹ Sebelumnya", on: { click: () => ctx.go("saya", { bulan: shiftMonth(data.bulan, -1) }) } }),
        h("input", { type: "month", value: data.bulan, "aria-label": "Pilih bulan",
          on: { change: (e) => e.target.value && ctx.go("saya", { bulan: e.target.value }) } }),
        h("button", { type: "button", text: "Berikutnya ›", on: { click: () => ctx.go("saya", { bulan: shiftMonth(data.bulan, 1) }) } }));
      clear(body, employeeDetail(data, { title: `${data.nama_bulan}` }));
    } catch (e) {
      clear(body, notice("error", e.message, e.detail));
    }
  }

  load();
  return null;
}
