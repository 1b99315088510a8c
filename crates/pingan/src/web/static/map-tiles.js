// pingan map tiles: the intranet tile server's Web-Mercator tiles drawn under the grids. Loaded
// only when the deployment configures a server ([map] tile_url), whose origin alone the page's
// CSP admits for images; without one, nothing here runs and nothing is fetched.
//
// Tiles are the XYZ scheme every web map uses: 256 px squares, zoom z splits the world into
// 2^z × 2^z of them, x from the antimeridian eastwards, y from the north. map.js projects the grids
// in the same Web-Mercator metres, so both line up.
//
// window.pinganTiles.layer(template, maxZoom, changed) → { draw(ctx, view), requested }
//   template  "http://tiles.intranet/{z}/{x}/{y}.png"
//   changed() called when a tile arrives, so the map can redraw
//   view      { scale, tx, ty, width, height, dpr, ox, oy }: CSS px = (metres − origin) × scale + t,
//             with (ox, oy) the Web-Mercator metres of the projection's origin and y down
(function () {
  "use strict";

  const HALF = Math.PI * 6378137; // the Web-Mercator world spans ±HALF metres on both axes
  const KEEP = 512; // tiles kept decoded; a 1280×800 screen shows about 40

  function layer(template, maxZoom, changed) {
    const cache = new Map(); // "z/x/y" → { img, ok }
    const state = { requested: 0, failed: 0 };

    function tile(z, x, y, load) {
      const key = `${z}/${x}/${y}`;
      let t = cache.get(key);
      if (!t && load) {
        if (cache.size >= KEEP) {
          // Map keeps insertion order: forget the oldest quarter, which are off screen by now.
          let n = KEEP / 4;
          for (const k of cache.keys()) {
            if (n-- <= 0) break;
            cache.delete(k);
          }
        }
        const img = new Image();
        t = { img, ok: false };
        img.onload = () => {
          t.ok = true;
          changed();
        };
        img.onerror = () => {
          state.failed += 1;
        };
        img.decoding = "async";
        img.src = template.replace("{z}", z).replace("{x}", x).replace("{y}", y);
        state.requested += 1;
        cache.set(key, t);
      }
      return t;
    }

    function draw(ctx, v) {
      // The zoom whose tiles are nearest one tile pixel per CSS pixel; past maxZoom, enlarged.
      const exact = Math.log2((2 * HALF * v.scale) / 256);
      const z = Math.max(0, Math.min(maxZoom, Math.round(exact)));
      const n = 2 ** z;
      const size = (2 * HALF) / n; // metres per tile
      const west = -v.tx / v.scale + v.ox;
      const east = (v.width - v.tx) / v.scale + v.ox;
      const north = v.oy + v.ty / v.scale;
      const south = v.oy - (v.height - v.ty) / v.scale;
      const clamp = (i) => Math.max(0, Math.min(n - 1, i));
      const [x0, x1] = [clamp(Math.floor((west + HALF) / size)), clamp(Math.floor((east + HALF) / size))];
      const [y0, y1] = [clamp(Math.floor((HALF - north) / size)), clamp(Math.floor((HALF - south) / size))];
      ctx.setTransform(v.dpr, 0, 0, v.dpr, 0, 0);
      ctx.imageSmoothingEnabled = true;
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          // Whole device pixels on each edge, so neighbouring tiles meet without a seam.
          const left = Math.floor((-HALF + x * size - v.ox) * v.scale + v.tx);
          const right = Math.ceil((-HALF + (x + 1) * size - v.ox) * v.scale + v.tx);
          const top = Math.floor((v.oy - (HALF - y * size)) * v.scale + v.ty);
          const bottom = Math.ceil((v.oy - (HALF - (y + 1) * size)) * v.scale + v.ty);
          const t = tile(z, x, y, true);
          if (t.ok) {
            ctx.drawImage(t.img, left, top, right - left, bottom - top);
            continue;
          }
          // Until it arrives, the quarter of its parent that it covers, if that is at hand.
          const parent = z > 0 ? tile(z - 1, x >> 1, y >> 1, false) : null;
          if (parent && parent.ok) {
            const w = parent.img.naturalWidth / 2;
            const h = parent.img.naturalHeight / 2;
            ctx.drawImage(parent.img, (x & 1) * w, (y & 1) * h, w, h, left, top, right - left, bottom - top);
          }
        }
      }
    }

    return {
      draw,
      get requested() {
        return state.requested;
      },
      get failed() {
        return state.failed;
      },
    };
  }

  window.pinganTiles = { layer, HALF };
})();
