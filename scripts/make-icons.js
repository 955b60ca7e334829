#!/usr/bin/env node
/**
 * Draws the Teams app icons (appPackage/color.png 192x192, appPackage/outline.png 32x32):
 * a shield with an upward arrow, "elevation with a safeguard".
 *
 * Uses only Node's standard library (zlib for the PNG image data), so the icons can be
 * regenerated anywhere: `node scripts/make-icons.js`. The output is deterministic.
 *
 * Teams rules the icons must follow (checked by test/unit/app-package.test.ts):
 * - color.png: 192x192, full colour;
 * - outline.png: 32x32, white on a transparent background (every pixel is white or transparent).
 */
const { Buffer } = require('node:buffer');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

/** Background of the colour icon; keep in sync with accentColor in appPackage/manifest.json. */
const ACCENT = [0x40, 0x52, 0xb5];
const WHITE = [0xff, 0xff, 0xff];
/** Samples per pixel side for anti-aliasing (SUPERSAMPLE^2 samples per pixel). */
const SUPERSAMPLE = 8;

// ---------------------------------------------------------------------------------------------
// Shapes, in unit coordinates (0..1 across the icon, y pointing down).

/** A shield outline as a polygon: flat top, straight sides, curved flanks meeting at a point. */
function shield(cx, top, width, height) {
  const left = cx - width / 2;
  const right = cx + width / 2;
  const shoulder = top + height * 0.42;
  const tip = top + height;
  const points = [
    [left, top],
    [right, top],
    [right, shoulder],
  ];
  const steps = 32;
  // Right flank: quadratic curve from the shoulder to the tip.
  for (let i = 1; i <= steps; i++) {
    points.push(quadratic([right, shoulder], [right, top + height * 0.82], [cx, tip], i / steps));
  }
  // Left flank, mirrored, back up to the shoulder.
  for (let i = 1; i <= steps; i++) {
    points.push(quadratic([cx, tip], [left, top + height * 0.82], [left, shoulder], i / steps));
  }
  return points;
}

function quadratic(p0, p1, p2, t) {
  const u = 1 - t;
  return [
    u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0],
    u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1],
  ];
}

/** An upward arrow: a triangular head on a rectangular shaft. */
function upArrow(cx, top, headWidth, headHeight, shaftWidth, bottom) {
  const headBase = top + headHeight;
  return [
    [cx, top],
    [cx + headWidth / 2, headBase],
    [cx + shaftWidth / 2, headBase],
    [cx + shaftWidth / 2, bottom],
    [cx - shaftWidth / 2, bottom],
    [cx - shaftWidth / 2, headBase],
    [cx - headWidth / 2, headBase],
  ];
}

/** Even-odd point-in-polygon test. */
function inside(polygon, x, y) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

/**
 * Rasterises an icon. `paint(x, y)` returns [r, g, b, a] (0..255) for a point in unit
 * coordinates; each pixel averages SUPERSAMPLE^2 points (colours weighted by alpha).
 */
function render(size, paint) {
  const rgba = Buffer.alloc(size * size * 4);
  const n = SUPERSAMPLE;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const [cr, cg, cb, ca] = paint(
            (px + (sx + 0.5) / n) / size,
            (py + (sy + 0.5) / n) / size,
          );
          r += cr * ca;
          g += cg * ca;
          b += cb * ca;
          a += ca;
        }
      }
      const o = (py * size + px) * 4;
      if (a > 0) {
        rgba[o] = Math.round(r / a);
        rgba[o + 1] = Math.round(g / a);
        rgba[o + 2] = Math.round(b / a);
      }
      rgba[o + 3] = Math.round(a / (n * n));
    }
  }
  return rgba;
}

// ---------------------------------------------------------------------------------------------
// The two icons.

function colorIcon() {
  const outer = shield(0.5, 0.15, 0.56, 0.7);
  const arrow = upArrow(0.5, 0.27, 0.3, 0.17, 0.1, 0.66);
  return render(192, (x, y) => {
    if (inside(outer, x, y) && !inside(arrow, x, y)) return [...WHITE, 255];
    return [...ACCENT, 255];
  });
}

function outlineIcon() {
  // Straight edges sit on whole pixels (px / 32) so they stay crisp at 32x32; the 2 px stroke and
  // the filled arrow keep a clear gap between them.
  const px = (n) => n / 32;
  const stroke = px(2);
  const outer = shield(0.5, px(2), px(24), px(28));
  const inner = shield(0.5, px(2) + stroke, px(24) - 2 * stroke, px(28) - 2.4 * stroke);
  const arrow = upArrow(0.5, px(8), px(12), px(6), px(4), px(22));
  return render(32, (x, y) => {
    const onStroke = inside(outer, x, y) && !inside(inner, x, y);
    // Transparent pixels stay white too, so the icon holds white and transparency only.
    return onStroke || inside(arrow, x, y) ? [...WHITE, 255] : [...WHITE, 0];
  });
}

// ---------------------------------------------------------------------------------------------
// PNG encoding (8-bit RGBA, no interlace, filter 0 on every row).

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function encodePng(size, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type: RGBA
  header[10] = 0; // compression
  header[11] = 0; // filter method
  header[12] = 0; // no interlace
  const stride = size * 4;
  const raw = Buffer.alloc((stride + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (stride + 1)] = 0; // filter type "None"
    rgba.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function main() {
  const outDir = path.join(__dirname, '..', 'appPackage');
  fs.mkdirSync(outDir, { recursive: true });
  const icons = [
    ['color.png', 192, colorIcon()],
    ['outline.png', 32, outlineIcon()],
  ];
  for (const [name, size, rgba] of icons) {
    const file = path.join(outDir, name);
    fs.writeFileSync(file, encodePng(size, rgba));
    console.log(`wrote ${path.relative(process.cwd(), file)} (${size}x${size})`);
  }
}

main();
