// Maps with the vendored Leaflet. Tiles come from the server the city configured (hub setting map.tiles_url);
// without one the map is a plain coordinate view: a grid of latitude/longitude lines, nothing fetched.
import { h } from "./dom.js";

export function makeMap(el, config) {
  const L = window.L;
  if (!L) {
    el.append(h("p.notice.error", { text: "Pustaka peta tidak termuat." }));
    return null;
  }
  const peta = config.peta;
  const map = L.map(el, { zoomControl: true });
  map.attributionControl.setPrefix("Leaflet");
  map.setView(peta.pusat, peta.zoom);
  if (peta.ubin) {
    L.tileLayer(peta.ubin, { attribution: peta.atribusi || "", maxZoom: 19 }).addTo(map);
  } else {
    el.classList.add("plain-map");
    graticule(L, map);
  }
  return map;
}

/** Latitude/longitude lines with their values, spaced for the zoom (the plain coordinate view). */
function graticule(L, map) {
  const layer = L.layerGroup().addTo(map);
  function draw() {
    layer.clearLayers();
    const b = map.getBounds();
    const span = Math.max(b.getNorth() - b.getSouth(), b.getEast() - b.getWest());
    const step = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001].find((s) => span / s >= 3) || 0.001;
    const digits = Math.max(0, Math.ceil(-Math.log10(step)));
    for (let lat = Math.ceil(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step) {
      L.polyline([[lat, b.getWest()], [lat, b.getEast()]], { color: "#9aa5b1", weight: 1, interactive: false }).addTo(layer);
      L.marker([lat, b.getWest()], { interactive: false, icon: L.divIcon({ className: "grid-label",
        html: `${lat.toFixed(digits)}°`, iconSize: [60, 14], iconAnchor: [-2, 14] }) }).addTo(layer);
    }
    for (let lon = Math.ceil(b.getWest() / step) * step; lon <= b.getEast(); lon += step) {
      L.polyline([[b.getSouth(), lon], [b.getNorth(), lon]], { color: "#9aa5b1", weight: 1, interactive: false }).addTo(layer);
      L.marker([b.getSouth(), lon], { interactive: false, icon: L.divIcon({ className: "grid-label",
        html: `${lon.toFixed(digits)}°`, iconSize: [60, 14], iconAnchor: [-2, 16] }) }).addTo(layer);
    }
  }
  map.on("moveend zoomend resize", draw);
  draw();
}

/** A popup made of text nodes (names never become markup). */
export function popup(...lines) {
  return h("div", {}, lines.map((line, i) => (i === 0 ? h("strong", { text: line }) : h("div", { text: line }))));
}

export function fit(map, points) {
  if (!map || !points.length) return;
  const L = window.L;
  if (points.length === 1) map.setView(points[0], Math.max(map.getZoom(), 16));
  else map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 17 });
}

/** Pick a point on the map (a duty order's destination); `onPick(lat, lon)`; returns set(lat, lon). */
export function pointPicker(map, onPick) {
  const L = window.L;
  let marker = null;
  function set(lat, lon, pan = true) {
    if (marker) marker.setLatLng([lat, lon]);
    else marker = L.circleMarker([lat, lon], { radius: 8, color: "#b45309", weight: 3 }).addTo(map);
    if (pan) map.panTo([lat, lon]);
  }
  map.on("click", (e) => {
    set(e.latlng.lat, e.latlng.lng, false);
    onPick(Number(e.latlng.lat.toFixed(6)), Number(e.latlng.lng.toFixed(6)));
  });
  return set;
}
