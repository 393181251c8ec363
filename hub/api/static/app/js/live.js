// Live check-ins over the hub's server-sent events. EventSource cannot send a bearer token, so the stream is
// read from fetch; when it ends or fails it reconnects after 1, 2, 4 ... 30 s (reset once connected).
import { bearer } from "./api.js";

export function follow(path, { onEvent, onState, onExpired }) {
  let stopped = false;
  let controller = null;
  let timer = null;
  let delay = 1;

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    onState({ connected: false, connecting: true });
    try {
      const r = await fetch(path, { headers: { Authorization: `Bearer ${bearer()}` }, signal: controller.signal });
      if (r.status === 401) { stopped = true; onExpired(); return; }
      if (!r.ok || !r.body) throw new Error(`status ${r.status}`);
      delay = 1;
      onState({ connected: true });
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const chunk = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) {
            try { onEvent(JSON.parse(data)); } catch { /* a malformed line is skipped */ }
          }
        }
      }
    } catch (e) {
      if (stopped) return;
    }
    if (stopped) return;
    onState({ connected: false, retryIn: delay });
    timer = setTimeout(connect, delay * 1000);
    delay = Math.min(30, delay * 2);
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
