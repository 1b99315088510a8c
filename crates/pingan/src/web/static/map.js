// pingan grid map (一图展示): every grid of the caller's jurisdiction, drawn on #grid-map from the
// GeoJSON at its data-geojson, fetched at the detail of the zoom shown. No library: one canvas
// stays smooth with a city's 4,507 grids where as many SVG nodes would not. Tiles under the grids
// only from the intranet tile server the deployment names (data-tiles, drawn by map-tiles.js).
//
// Hook for tests and power users (read it, call its functions; changing it changes nothing):
//   window.pinganMap.ready                   true once the grids are loaded and drawn (even if none)
//   window.pinganMap.count                   how many grids were loaded
//   window.pinganMap.screenPointOf(lon, lat) [x, y]: where a WGS-84 point is drawn now, in CSS pixels
//                                            from the top-left of canvas.getBoundingClientRect()
//                                            (null before the grids are loaded)
//   window.pinganMap.selectedCode()          the selected grid's code, or null
//   window.pinganMap.statsReady              true once the per-grid figures (population, coverage,
//                                            overdue duties) are loaded for the measure colours
//   window.pinganMap.zoom                    the web-map zoom the geometry held was simplified for
//   window.pinganMap.viewZoom()              the web-map zoom shown now (fractional)
//   window.pinganMap.tileRequests()          how many tiles were asked of the tile server
(function () {
  "use strict";

  const canvas = document.getElementById("grid-map");
  if (!canvas || !canvas.getContext) return;
  const ctx = canvas.getContext("2d");
  const card = document.getElementById("grid-card");
  const statusLine = document.getElementById("map-status");
  const measure = document.getElementById("map-measure");
  const search = document.getElementById("map-search");
  const data = canvas.dataset;
  const zh = (data.lang || "zh-CN").startsWith("zh");
  const tiles =
    data.tiles && window.pinganTiles ? window.pinganTiles.layer(data.tiles, Number(data.tilesMaxZoom) || 18, () => redraw()) : null;

  // The server translates every label. These stand in only for the three it does not send yet
  // (data-label-not-found, data-label-error, data-label-signed-out) and give way once it does.
  const text = (key, zhText, enText) => data[key] || (zh ? zhText : enText);
  const failedText = () =>
    text("labelError", "网格加载失败，请稍后刷新重试。", "The grids could not be loaded; reload to try again.");
  const countText = (n) => (zh ? `${n} 个网格` : `${n} ${n === 1 ? "grid" : "grids"}`);

  // Colours: grids with a responsible officer green, without orange; neutral when not measuring.
  const FILL = { yes: "#b7ddb0", no: "#f7bf94", plain: "#f8fafc", unknown: "#e2e8f0" };
  // Five steps from pale to strong, and bad-to-good for coverage (red, orange, yellow, greens).
  const RAMP = ["#eef4fb", "#c7dcf0", "#8fb8e0", "#4f8fcb", "#1f5f9f"];
  const GOOD = ["#e8877c", "#f4b183", "#f7e08a", "#b7ddb0", "#6fbf73"];
  const OUTLINE = "#52647a";
  const SELECTED = "#0b5cad";
  const LABEL_PX = 13;
  let font = ""; // the page's font (it has the CJK fallbacks), read once

  const api = {
    ready: false,
    statsReady: false,
    count: 0,
    screenPointOf(lon, lat) {
      if (!features.length) return null;
      const p = project(lon, lat);
      return [p[0] * scale + tx + canvas.clientLeft, p[1] * scale + ty + canvas.clientTop];
    },
    selectedCode: () => (selected ? selected.code : null),
    zoom: null,
    viewZoom: () => Math.log2((2 * HALF * scale) / 256),
    tileRequests: () => (tiles ? tiles.requested : 0),
  };
  window.pinganMap = api;

  // ---- projection and features -------------------------------------------------------------

  // Web Mercator, the projection of every tile server, so the grids line up with its tiles; in
  // its metres from the centre of the data (y grows down). Those are small numbers, which keeps
  // Path2D's float32 coordinates precise at street zoom. At a city's latitude a Mercator metre is
  // about 0.8 m on the ground, the same everywhere across a city to well under 1 %.
  const R = 6378137;
  const HALF = Math.PI * R;
  const mercator = (lon, lat) => [(lon * Math.PI * R) / 180, R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))];
  let origin = null; // [x, y] Web-Mercator metres of the centre of the first geometry loaded
  const project = (lon, lat) => {
    const [x, y] = mercator(lon, lat);
    return [x - origin[0], origin[1] - y];
  };

  let features = []; // sorted by code, so the first hit of a scan is the smallest code
  let extent = null; // [minX, minY, maxX, maxY] of all grids, projected
  let selected = null;

  const polygonsOf = (g) =>
    !g ? [] : g.type === "MultiPolygon" ? g.coordinates || [] : g.type === "Polygon" ? [g.coordinates || []] : [];

  // Replaces the features with those of `collection`. The origin is set by the first geometry and
  // kept, so geometry fetched again for another zoom lands where the view already is.
  function build(collection) {
    const raw = collection && Array.isArray(collection.features) ? collection.features : [];
    let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const f of raw) {
      for (const poly of polygonsOf(f && f.geometry)) {
        for (const c of poly[0] || []) {
          [w, s, e, n] = [Math.min(w, c[0]), Math.min(s, c[1]), Math.max(e, c[0]), Math.max(n, c[1])];
        }
      }
    }
    features = [];
    extent = null;
    if (!(w <= e)) return;
    if (!origin) origin = mercator((w + e) / 2, (s + n) / 2);
    extent = [Infinity, Infinity, -Infinity, -Infinity];
    for (const f of raw) {
      const props = (f && f.properties) || {};
      const path = new Path2D();
      const bbox = [Infinity, Infinity, -Infinity, -Infinity];
      const polys = [];
      for (const poly of polygonsOf(f && f.geometry)) {
        const rings = [];
        for (const ring of poly) {
          if (!Array.isArray(ring) || ring.length < 3) continue;
          const xy = new Float64Array(ring.length * 2);
          ring.forEach((c, i) => {
            const [x, y] = project(c[0], c[1]);
            xy[2 * i] = x;
            xy[2 * i + 1] = y;
            if (i === 0) path.moveTo(x, y);
            else path.lineTo(x, y);
            bbox[0] = Math.min(bbox[0], x);
            bbox[1] = Math.min(bbox[1], y);
            bbox[2] = Math.max(bbox[2], x);
            bbox[3] = Math.max(bbox[3], y);
          });
          path.closePath();
          rings.push(xy);
        }
        if (rings.length) polys.push(rings);
      }
      if (!polys.length) continue;
      const feature = {
        id: Number(f.id) || 0,
        stats: null, // filled from the stats endpoint once it answers
        code: String(props.code == null ? "" : props.code),
        name: String(props.name == null ? "" : props.name),
        responsible: props.responsible ? String(props.responsible) : null,
        path,
        polys,
        bbox,
        size: Math.max(bbox[2] - bbox[0], bbox[3] - bbox[1]),
        lod: new Map(), // level → simplified Path2D, see pathFor
        textWidth: -1, // measured on first use
      };
      feature.label = placeLabel(feature);
      features.push(feature);
      for (let i = 0; i < 4; i++) extent[i] = (i < 2 ? Math.min : Math.max)(extent[i], bbox[i]);
    }
    if (!features.length) extent = null;
    features.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  }

  // The server's boundary rule, for one polygon (exterior and holes): a point on any ring is
  // covered; otherwise it is inside if a ray towards +x crosses its rings an odd number of times.
  function polygonCovers(rings, px, py) {
    let inside = false;
    for (const xy of rings) {
      for (let i = 0, j = xy.length - 2; i < xy.length; j = i, i += 2) {
        const [ax, ay, bx, by] = [xy[j], xy[j + 1], xy[i], xy[i + 1]];
        const onLine = (bx - ax) * (py - ay) - (by - ay) * (px - ax) === 0;
        const inBox = px >= Math.min(ax, bx) && px <= Math.max(ax, bx) && py >= Math.min(ay, by) && py <= Math.max(ay, by);
        if (onLine && inBox) return true;
        if (ay > py !== by > py && px < ax + ((py - ay) * (bx - ax)) / (by - ay)) inside = !inside;
      }
    }
    return inside;
  }

  // Where grids overlap or share an edge, the smallest code wins, as on the server.
  function featureAt(px, py) {
    const inBox = (b) => px >= b[0] && px <= b[2] && py >= b[1] && py <= b[3];
    return features.find((f) => inBox(f.bbox) && f.polys.some((rings) => polygonCovers(rings, px, py))) || null;
  }

  // The stretches of the line y = c (x = c if `vertical`) inside the feature: its rings' crossings,
  // sorted and paired even-odd like the fill.
  function spans(f, c, vertical) {
    const [u, v] = vertical ? [1, 0] : [0, 1]; // u runs along the line, v across it
    const hits = [];
    for (const rings of f.polys) {
      for (const xy of rings) {
        for (let i = 0, j = xy.length - 2; i < xy.length; j = i, i += 2) {
          const [a, b] = [xy[j + v], xy[i + v]];
          if (a > c !== b > c) hits.push(xy[j + u] + ((c - a) * (xy[i + u] - xy[j + u])) / (b - a));
        }
      }
    }
    hits.sort((a, b) => a - b);
    const out = [];
    for (let i = 0; i + 1 < hits.length; i += 2) out.push([hits[i], hits[i + 1]]);
    return out;
  }

  // A label point well inside the grid (the bbox centre may fall in a hole or outside a concave
  // grid): across a few horizontal lines, centre-first, the middle of the widest stretch, then
  // centred vertically there; the one with the most room for a wide name wins. `w` and `h` are the
  // room around it, to decide at each zoom whether the name fits.
  function placeLabel(f) {
    const b = f.bbox;
    const widest = (list) => list.reduce((best, s) => (!best || s[1] - s[0] > best[1] - best[0] ? s : best), null);
    const around = (list, c) => list.find((s) => s[0] <= c && c <= s[1]) || widest(list);
    let best = { x: (b[0] + b[2]) / 2, y: (b[1] + b[3]) / 2, w: 0, h: 0 }; // degenerate: never labelled
    for (const t of [0.5, 0.35, 0.65, 0.2, 0.8]) {
      const line = b[1] + t * (b[3] - b[1]);
      const across = widest(spans(f, line, false));
      const x = across && (across[0] + across[1]) / 2;
      const down = across && around(spans(f, x, true), line);
      if (!down) continue;
      const y = (down[0] + down[1]) / 2;
      const row = around(spans(f, y, false), x) || [x, x];
      const room = { x, y, w: Math.max(0, 2 * Math.min(x - row[0], row[1] - x)), h: down[1] - down[0] };
      if (Math.min(room.w / 5, room.h) > Math.min(best.w / 5, best.h)) best = room; // names are ~5× wider than tall
    }
    return best;
  }

  // Level of detail. Seen whole, a city's grids are a few pixels each, yet rasterising all their
  // ~225k vertices takes several frames' time without a GPU. So each grid also keeps simplified
  // paths (Douglas–Peucker, made when first needed), one per power-of-two tolerance in metres,
  // and a frame uses the one that is off by at most a pixel; near enough, the exact path.
  function pathFor(f) {
    const level = Math.floor(Math.log2(1 / scale));
    const tolerance = 2 ** level;
    if (tolerance * 64 < f.size) return f.path;
    let path = f.lod.get(level);
    if (!path) {
      path = new Path2D();
      for (const rings of f.polys) for (const xy of rings) traceSimplified(path, xy, tolerance);
      f.lod.set(level, path);
    }
    return path;
  }

  // Adds ring `xy` to `path` without the vertices that lie within `tolerance` of the line through
  // their neighbours that are kept. A ring that shrinks to a line is left out (it is sub-pixel).
  function traceSimplified(path, xy, tolerance) {
    const n = xy.length / 2;
    const keep = new Uint8Array(n);
    keep[0] = keep[n - 1] = 1;
    const stack = [0, n - 1];
    while (stack.length) {
      const b = stack.pop();
      const a = stack.pop();
      const [ax, ay, dx, dy] = [xy[2 * a], xy[2 * a + 1], xy[2 * b] - xy[2 * a], xy[2 * b + 1] - xy[2 * a + 1]];
      const length2 = dx * dx + dy * dy;
      let [worst, at] = [tolerance * tolerance, -1];
      for (let i = a + 1; i < b; i++) {
        const [px, py] = [xy[2 * i] - ax, xy[2 * i + 1] - ay];
        // Distance to the segment, so the closed ring's first split (a zero-length chord) works too.
        const t = length2 ? Math.max(0, Math.min(1, (px * dx + py * dy) / length2)) : 0;
        const d = (px - t * dx) ** 2 + (py - t * dy) ** 2;
        if (d > worst) [worst, at] = [d, i];
      }
      if (at >= 0) {
        keep[at] = 1;
        stack.push(a, at, at, b);
      }
    }
    let kept = 0;
    for (let i = 0; i < n; i++) kept += keep[i];
    if (kept < 4) return; // closed: 3 distinct corners + the repeated first one, at least
    let first = true;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      if (first) path.moveTo(xy[2 * i], xy[2 * i + 1]);
      else path.lineTo(xy[2 * i], xy[2 * i + 1]);
      first = false;
    }
    path.closePath();
  }

  // ---- view: CSS px = projected metres × scale + (tx, ty) --------------------------------------

  let width = 0;
  let height = 0;
  let dpr = 1;
  let scale = 1;
  let tx = 0;
  let ty = 0;
  let fitted = true; // showing the whole-extent fit: a resize fits again rather than keep the centre

  function fitScale(b, pad) {
    return Math.min((width - 2 * pad) / Math.max(b[2] - b[0], 1), (height - 2 * pad) / Math.max(b[3] - b[1], 1));
  }

  // From a quarter of the whole-extent fit out to 2 px a metre in (a 500 m grid fills a screen).
  function clampScale(s) {
    const all = extent ? fitScale(extent, 16) : 1;
    return Math.min(Math.max(s, all / 4), Math.max(2, all * 4));
  }

  // Keep some of the grids on screen, so a wild drag cannot lose them.
  function constrain() {
    if (!extent) return;
    const m = Math.min(48, width / 4, height / 4);
    const [x0, y0, x1, y1] = [extent[0] * scale + tx, extent[1] * scale + ty, extent[2] * scale + tx, extent[3] * scale + ty];
    if (x1 < m) tx += m - x1;
    if (x0 > width - m) tx -= x0 - (width - m);
    if (y1 < m) ty += m - y1;
    if (y0 > height - m) ty -= y0 - (height - m);
  }

  function fitTo(b, pad) {
    if (!b || width <= 0 || height <= 0) return;
    scale = clampScale(fitScale(b, pad));
    tx = width / 2 - ((b[0] + b[2]) / 2) * scale;
    ty = height / 2 - ((b[1] + b[3]) / 2) * scale;
    constrain();
    redraw();
    detail();
  }

  function fitAll() {
    fitTo(extent, 16);
    fitted = true;
  }

  function panBy(dx, dy) {
    tx += dx;
    ty += dy;
    fitted = false;
    constrain();
    moving();
  }

  function zoomAt(factor, x, y) {
    const s = clampScale(scale * factor);
    tx = x - ((x - tx) * s) / scale;
    ty = y - ((y - ty) * s) / scale;
    scale = s;
    fitted = false;
    constrain();
    moving();
    detail();
  }

  // The backing store follows the CSS box × devicePixelRatio, so lines stay sharp on phones.
  function resize() {
    const [w, h, r] = [canvas.clientWidth, canvas.clientHeight, window.devicePixelRatio || 1];
    if (w === width && h === height && r === dpr) return;
    const centre = [(width / 2 - tx) / scale, (height / 2 - ty) / scale];
    [width, height, dpr] = [w, h, r];
    canvas.width = Math.max(1, Math.round(w * r));
    canvas.height = Math.max(1, Math.round(h * r));
    snapshot = null;
    if (fitted) {
      fitAll();
    } else {
      tx = w / 2 - centre[0] * scale;
      ty = h / 2 - centre[1] * scale;
      constrain();
    }
    redraw();
  }

  // ---- drawing -----------------------------------------------------------------------------

  let frame = 0;
  function redraw() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  // A drag, pinch or wheel moves the view many times a second. Where a full frame is slow (a whole
  // city, 4,507 grids, takes ~40 ms to draw without a GPU), those frames show the last full
  // drawing moved and scaled, as map tiles would be, and the grids are drawn afresh at rest.
  const HEAVY = 800; // grids on screen from which a frame may be slow (~8 ms without a GPU)
  let snapshot = null; // {image, scale, tx, ty} of the last full drawing, kept only when heavy
  let settling = 0;
  function moving() {
    clearTimeout(settling);
    settling = setTimeout(() => {
      settling = 0;
      redraw();
    }, 150);
    redraw();
  }

  function drawSnapshot() {
    const k = scale / snapshot.scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const [x, y] = [(tx - snapshot.tx * k) * dpr, (ty - snapshot.ty * k) * dpr];
    ctx.drawImage(snapshot.image, x, y, snapshot.image.width * k, snapshot.image.height * k);
  }

  let maxResidents = 1;

  function fillOf(f) {
    const m = measure ? measure.value : "none";
    if (m === "responsible") return f.responsible ? FILL.yes : FILL.no;
    const st = f.stats;
    if (m === "population") {
      if (!st) return FILL.unknown;
      return RAMP[Math.min(4, Math.floor((st.residents / maxResidents) * 5))];
    }
    if (m === "coverage") {
      if (!st || st.coverage == null) return FILL.unknown;
      const c = st.coverage;
      return GOOD[c < 0.3 ? 0 : c < 0.6 ? 1 : c < 0.8 ? 2 : c < 0.95 ? 3 : 4];
    }
    if (m === "overdue") {
      if (!st) return FILL.unknown;
      return st.overdue > 0 ? GOOD[0] : GOOD[4];
    }
    return FILL.plain;
  }

  // The legend says what the colours of the chosen measure mean.
  function legend() {
    const el = document.getElementById("map-legend");
    if (!el) return;
    const m = measure ? measure.value : "none";
    const pct = (a, b) => `${a}–${b}%`;
    const rows =
      m === "responsible"
        ? [[FILL.yes, text("labelHasOfficer", "有责任民警", "Has an officer")], [FILL.no, text("labelNoOfficer", "无责任民警", "No officer")]]
        : m === "population"
          ? RAMP.map((c, i) => [c, `${Math.round((maxResidents * i) / 5)}–${Math.round((maxResidents * (i + 1)) / 5)}`])
          : m === "coverage"
            ? [[GOOD[0], pct(0, 30)], [GOOD[1], pct(30, 60)], [GOOD[2], pct(60, 80)], [GOOD[3], pct(80, 95)], [GOOD[4], pct(95, 100)]]
            : m === "overdue"
              ? [[GOOD[4], text("labelNoOverdue", "无逾期", "None overdue")], [GOOD[0], text("labelOverdue", "有逾期挂钩", "Overdue duties")]]
              : [];
    el.textContent = "";
    for (const [colour, label] of rows) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = colour;
      item.append(swatch, " ", label);
      el.append(item);
    }
  }

  function draw() {
    if (frame) cancelAnimationFrame(frame); // a direct call makes a pending frame redundant
    frame = 0;
    const k = snapshot ? scale / snapshot.scale : 0;
    if (settling && k > 0.5 && k < 2) return drawSnapshot(); // beyond that, too blurred or too small
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!features.length || width <= 0) return;
    if (tiles) tiles.draw(ctx, { scale, tx, ty, width, height, dpr, ox: origin[0], oy: origin[1] });
    // Only the transform changes with the view; paths stay in projected metres. Line widths are
    // divided by the scale so they stay the same on screen.
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * tx, dpr * ty);
    const m = 4 / scale;
    const [x0, y0, x1, y1] = [-tx / scale - m, -ty / scale - m, (width - tx) / scale + m, (height - ty) / scale + m];
    const visible = features.filter((f) => f.bbox[2] >= x0 && f.bbox[0] <= x1 && f.bbox[3] >= y0 && f.bbox[1] <= y1);
    let colour = "";
    // Over tiles the fills are see-through, so streets and rivers show under the grid colours.
    ctx.globalAlpha = tiles ? 0.55 : 1;
    for (const f of visible) {
      const c = fillOf(f);
      if (c !== colour) ctx.fillStyle = colour = c;
      ctx.fill(pathFor(f), "evenodd");
    }
    ctx.globalAlpha = 1;
    ctx.strokeStyle = OUTLINE;
    // One device pixel: thin enough to keep 4,507 small grids apart, and the cheapest line to
    // draw (Chromium strokes a wider line with a general stroker, about seven times slower).
    ctx.lineWidth = 1 / (scale * dpr);
    for (const f of visible) ctx.stroke(pathFor(f));
    if (selected) {
      ctx.fillStyle = "rgba(255, 255, 255, 0.4)"; // paler, so its measure colour still shows
      ctx.fill(selected.path, "evenodd");
      ctx.strokeStyle = SELECTED;
      ctx.lineJoin = "round";
      ctx.lineWidth = 3 / scale;
      ctx.stroke(selected.path);
    }
    drawLabels(visible);
    // The count, not a timing: canvas drawing is mostly deferred, so JS time says little.
    if (visible.length < HEAVY) {
      snapshot = null;
      return;
    }
    const image = snapshot ? snapshot.image : document.createElement("canvas");
    [image.width, image.height] = [canvas.width, canvas.height];
    image.getContext("2d").drawImage(canvas, 0, 0);
    snapshot = { image, scale, tx, ty };
  }

  // Names go where they fit inside their grid at this zoom and do not run into another name.
  function drawLabels(visible) {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!font) font = `${LABEL_PX}px ${getComputedStyle(canvas).fontFamily || "sans-serif"}`;
    ctx.font = font;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    ctx.fillStyle = "#1b2430";
    const taken = [];
    for (const f of visible) {
      if (!f.name) continue;
      if (f.textWidth < 0) f.textWidth = ctx.measureText(f.name).width;
      const [w, h] = [f.textWidth + 6, LABEL_PX + 4];
      if (w > f.label.w * scale || h > f.label.h * scale) continue;
      const [x, y] = [f.label.x * scale + tx, f.label.y * scale + ty];
      const box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2];
      if (box[0] < 0 || box[2] > width || box[1] < 0 || box[3] > height) continue; // no cut-off names
      if (taken.some((t) => box[0] < t[2] && t[0] < box[2] && box[1] < t[3] && t[1] < box[3])) continue;
      taken.push(box);
      ctx.strokeText(f.name, x, y);
      ctx.fillText(f.name, x, y);
    }
  }

  // ---- selection, card, search, status -----------------------------------------------------

  function setStatus(message) {
    if (statusLine) statusLine.textContent = message;
  }

  function cardRow(label, value) {
    const p = document.createElement("p");
    const name = document.createElement("span");
    name.className = "muted";
    name.textContent = label;
    p.append(name, " ", value);
    return p;
  }

  function select(f) {
    selected = f;
    if (card) {
      card.textContent = "";
      if (f) {
        const title = document.createElement("h2");
        title.textContent = f.name || f.code;
        const officer = f.responsible || data.labelNone || "";
        card.append(title, cardRow(data.labelCode || "", f.code), cardRow(data.labelResponsible || "", officer));
        if (f.id && data.card) fillCard(f);
      }
      card.hidden = !f;
    }
    setStatus(countText(features.length)); // a choice made replaces an old "not found"
    redraw();
  }

  // The officer's phone, counts and last visit come from the server when a grid is chosen.
  async function fillCard(f) {
    let body;
    try {
      const response = await fetch(`${data.card}${f.id}/card`, { credentials: "same-origin" });
      if (!response.ok) return;
      body = await response.json();
    } catch (err) {
      return;
    }
    if (selected !== f || !card) return; // another grid was chosen meanwhile
    const st = body.stats || {};
    const when = st.last_visit ? new Date(st.last_visit).toLocaleDateString(zh ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai" }) : "—";
    const rate = st.coverage == null ? "—" : `${Math.round(st.coverage * 100)}%`;
    card.append(
      cardRow(text("labelPhone", "电话", "Phone"), body.phone || "—"),
      cardRow(text("labelResidents", "人口", "Residents"), String(st.residents || 0)),
      cardRow(text("labelHouseholds", "在住户数", "Households"), String(st.households || 0)),
      cardRow(text("labelCoverage", "走访覆盖率", "Visit coverage"), rate),
      cardRow(text("labelLastVisit", "最近走访", "Last visit"), when),
      cardRow(text("labelOverdue", "逾期挂钩", "Overdue duties"), String(st.overdue || 0))
    );
    // The rest of the grid's team (the responsible officer heads the card already).
    const team = (body.team || []).filter((m) => m.duty !== "responsible");
    if (team.length) {
      const list = document.createElement("ul");
      list.id = "card-team";
      for (const m of team) {
        const key = "duty" + m.duty.split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
        const li = document.createElement("li");
        li.textContent = `${data[key] || m.duty} ${m.name}`;
        list.append(li);
      }
      card.append(cardRow(text("labelTeam", "网格团队", "Team"), ""), list);
    }
    if (data.gridPage) {
      const link = document.createElement("a");
      link.id = "card-grid-page";
      link.href = `${data.gridPage}${f.id}`;
      link.textContent = text("labelGridPage", "网格详情", "Grid page");
      const p = document.createElement("p");
      p.append(link);
      card.append(p);
    }
    if (data.residents) {
      const link = document.createElement("a");
      link.id = "card-residents";
      link.href = `${data.residents}?grid_id=${f.id}`;
      link.textContent = text("labelResidentsLink", "查看本网格人员", "Residents of this grid");
      const p = document.createElement("p");
      p.append(link);
      card.append(p);
    }
  }

  // A place typed in the search box that is no grid's name: look it up among the addresses.
  async function findAddress(q) {
    if (!data.addresses) return false;
    let body;
    try {
      const response = await fetch(`${data.addresses}?per_page=1&q=${encodeURIComponent(q)}`, { credentials: "same-origin" });
      if (!response.ok) return false;
      body = await response.json();
    } catch (err) {
      return false;
    }
    const a = body.items && body.items[0];
    const hit = a && features.find((f) => f.id === a.grid_id);
    if (!hit || lastQuery !== q) return false;
    fitTo(hit.bbox, Math.min(width, height) / 4);
    fitted = false;
    select(hit);
    setStatus(`${a.text} · ${hit.name}`);
    return true;
  }

  // Code equal first, then name equal, then name containing the text; ties to the smallest code.
  let lastQuery = null;
  function find(query) {
    lastQuery = query;
    const q = query.trim();
    if (!q || !api.ready) return;
    const lower = q.toLowerCase();
    const hit =
      features.find((f) => f.code === q) ||
      features.find((f) => f.name === q) ||
      features.find((f) => f.name.toLowerCase().includes(lower));
    if (!hit) {
      findAddress(q).then((found) => {
        if (!found && lastQuery === query) {
          setStatus(text("labelNotFound", `没有找到与“${q}”匹配的网格或地址。`, `No grid or address matches “${q}”.`));
        }
      });
      return;
    }
    // Zoom so the grid takes about half the view: near enough to see it, far enough for context.
    fitTo(hit.bbox, Math.min(width, height) / 4);
    fitted = false;
    select(hit);
  }

  // ---- input -------------------------------------------------------------------------------

  // Pointer position in CSS px from the canvas's drawing area (inside its border).
  function local(e) {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left - canvas.clientLeft, e.clientY - r.top - canvas.clientTop];
  }

  // One pointer pans, two pinch; a press released without moving is a click that selects.
  const pointers = new Map(); // pointerId → {x, y}
  let gesture = null; // {x0, y0, slop, moved}

  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    const [x, y] = local(e);
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x, y });
    if (pointers.size === 1) gesture = { x0: x, y0: y, slop: e.pointerType === "mouse" ? 4 : 10, moved: false };
    else if (gesture) gesture.moved = true; // a second finger makes it a pinch, never a tap
    if (e.pointerType === "mouse") canvas.style.cursor = "grabbing";
  });

  canvas.addEventListener("pointermove", (e) => {
    const p = pointers.get(e.pointerId);
    if (!p) return;
    const [x, y] = local(e);
    if (pointers.size === 1) {
      if (Math.hypot(x - gesture.x0, y - gesture.y0) > gesture.slop) gesture.moved = true;
      panBy(x - p.x, y - p.y);
    } else if (pointers.size === 2) {
      let other = null;
      pointers.forEach((q, id) => {
        if (id !== e.pointerId) other = q;
      });
      const before = Math.hypot(p.x - other.x, p.y - other.y);
      const after = Math.hypot(x - other.x, y - other.y);
      const [mx, my] = [(x + other.x) / 2, (y + other.y) / 2];
      panBy(mx - (p.x + other.x) / 2, my - (p.y + other.y) / 2);
      if (before > 0 && after > 0) zoomAt(after / before, mx, my);
    }
    [p.x, p.y] = [x, y];
  });

  function release(e, cancelled) {
    if (!pointers.delete(e.pointerId) || pointers.size) return;
    if (!cancelled && gesture && !gesture.moved && api.ready) {
      const [x, y] = local(e);
      select(featureAt((x - tx) / scale, (y - ty) / scale));
    }
    gesture = null;
    canvas.style.cursor = "";
  }
  canvas.addEventListener("pointerup", (e) => release(e, false));
  canvas.addEventListener("pointercancel", (e) => release(e, true));

  canvas.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault(); // the wheel zooms the map instead of scrolling the page
      const px = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? height : 1);
      const [x, y] = local(e);
      zoomAt(Math.min(2, Math.max(0.5, Math.exp(-px * 0.002))), x, y);
    },
    { passive: false }
  );

  const on = (id, type, handler) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener(type, handler);
  };
  on("map-zoom-in", "click", () => zoomAt(1.6, width / 2, height / 2));
  on("map-zoom-out", "click", () => zoomAt(1 / 1.6, width / 2, height / 2));
  on("map-reset", "click", fitAll);
  on("map-measure", "change", () => {
    legend();
    redraw();
  });
  on("map-search", "keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    find(search.value);
  });
  // Enter already searched; change then fires again on blur, which must not undo a later pan.
  on("map-search", "change", () => {
    if (search.value !== lastQuery) find(search.value);
  });

  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);
  else window.addEventListener("resize", resize);

  // ---- loading -----------------------------------------------------------------------------

  // The server simplifies each grid to about half a pixel at a web-map zoom (0 the world, 18 a
  // street); for a city, full detail is 5.8 MB and zoom 11 2.9 MB (0.5 MB gzipped). The map asks
  // for the nearest whole zoom to the one it shows, which keeps the error under 0.71 px (half a
  // pixel at most half a zoom level out). The first request is for zoom 11, about where a
  // Xinxiang-sized city fits a screen; once the grids are fitted the map asks for the zoom it shows,
  // and again, a moment after zooming stops, whenever that is a level finer or two coarser than
  // what it holds. It keeps drawing what it has until the new geometry is in.
  const FIRST_ZOOM = 11;
  const MAX_DETAIL = 22; // the server's last level
  let fetching = false;
  let refused = null; // a zoom whose request failed: not asked again until the zoom changes
  let detailTimer = 0;
  const wantedZoom = () => Math.max(0, Math.min(MAX_DETAIL, Math.round(api.viewZoom())));

  function detail() {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(refine, 400);
  }

  async function refine() {
    detailTimer = 0;
    if (fetching || api.zoom == null || !extent) return;
    const want = wantedZoom();
    if ((want <= api.zoom && want >= api.zoom - 2) || want === refused) return;
    fetching = true;
    const got = await fetchGrids(want).catch(() => ({ ok: false }));
    fetching = false;
    if (!got.ok) {
      refused = want;
      return;
    }
    refused = null;
    const chosen = selected;
    build(got.body);
    api.zoom = want;
    api.count = features.length;
    selected = chosen && features.find((f) => f.id === chosen.id);
    if (chosen && !selected) select(null);
    applyStats();
    snapshot = null;
    redraw();
    detail(); // the view may have moved on while this was loading
  }

  // {ok, body} or {ok: false, message}.
  async function fetchGrids(zoom) {
    const response = await fetch(`${data.geojson}?zoom=${zoom}`, { credentials: "same-origin" });
    if (response.status === 401) {
      return { ok: false, message: text("labelSignedOut", "登录已失效，请重新登录。", "You are signed out; sign in again.") };
    }
    if (!response.ok) return { ok: false, message: `${failedText()} (HTTP ${response.status})` };
    return { ok: true, body: await response.json() };
  }

  async function load() {
    let got;
    try {
      got = await fetchGrids(FIRST_ZOOM);
    } catch (err) {
      got = { ok: false, message: failedText() };
    }
    if (!got.ok) {
      setStatus(got.message);
      return;
    }
    build(got.body);
    api.zoom = FIRST_ZOOM;
    api.count = features.length;
    setStatus(features.length ? countText(features.length) : data.labelEmpty || "");
    width = 0; // force resize() to size the canvas and fit the grids
    resize();
    draw(); // now, not at the next frame, so `ready` means drawn
    api.ready = true;
    legend();
    loadStats();
    refine();
  }

  let statsById = null;

  function applyStats() {
    if (!statsById) return;
    maxResidents = 1;
    for (const f of features) {
      f.stats = statsById.get(f.id) || null;
      if (f.stats) maxResidents = Math.max(maxResidents, f.stats.residents);
    }
  }

  async function loadStats() {
    if (!data.stats) return;
    try {
      const response = await fetch(data.stats, { credentials: "same-origin" });
      if (!response.ok) return;
      const rows = await response.json();
      statsById = new Map(rows.map((r) => [r.grid_id, r]));
      applyStats();
    } catch (err) {
      return;
    }
    api.statsReady = true;
    legend();
    redraw();
  }

  load().catch((err) => {
    setStatus(failedText());
    if (window.console) console.error(err);
  });
})();
