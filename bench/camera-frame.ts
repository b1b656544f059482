/**
 * Synthetic camera-like frames for the JPEG benchmarks and tests: a lit room (vignetted gradient
 * wall, a window with hard edges, a textured shelf), a shaded face-like ellipse with hair texture,
 * and mild sensor noise. Encodes at q75 to a size close to a real webcam frame (~0.6 bit/pixel at
 * 640x480), unlike flat colour or white noise. Deterministic for a seed.
 */

export interface Frame {
  width: number;
  height: number;
  rgba: Uint8Array;
  rgb: Uint8Array;
  /** BT.601 limited range, chroma ceil(w/2) x ceil(h/2) (the I420 layout of test/support/pixels.ts). */
  i420: Uint8Array;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** noise: amplitude of the sensor noise (0 for a smooth image). */
export function cameraFrame(width: number, height: number, seed = 1, noise = 6): Frame {
  let state = (seed * 2654435761) >>> 0 || 1;
  const random = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  const rgb = new Uint8Array(width * height * 3);
  const cx = width * 0.5, cy = height * 0.55, rx = width * 0.17, ry = height * 0.3;
  for (let y = 0; y < height; y++) {
    const v = y / height;
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const dx = u - 0.5, dy = v - 0.5;
      const vignette = 1 - 0.6 * (dx * dx + dy * dy);
      // The wall: a warm gradient.
      let r = (170 + 40 * u) * vignette, g = (150 + 30 * v) * vignette, b = (120 + 50 * (1 - u)) * vignette;
      // A bright window, upper left, with a frame bar across it.
      if (u > 0.06 && u < 0.3 && v > 0.08 && v < 0.45) {
        const bar = Math.abs(u - 0.18) < 0.008 || Math.abs(v - 0.26) < 0.01;
        r = bar ? 60 : 220 + 20 * v; g = bar ? 55 : 230 + 15 * v; b = bar ? 50 : 245;
      }
      // A shelf on the right with books: vertical stripes of varied colour.
      if (u > 0.72 && v > 0.2 && v < 0.5) {
        const book = Math.floor(u * 90);
        r = 80 + ((book * 53) % 120); g = 40 + ((book * 31) % 90); b = 30 + ((book * 71) % 100);
      }
      // The face: a shaded ellipse, hair on top with fine texture.
      const ex = (x - cx) / rx, ey = (y - cy) / ry, e = ex * ex + ey * ey;
      if (e < 1) {
        const light = 0.75 + 0.25 * Math.cos(ex * 1.3 - 0.4) * Math.sqrt(1 - e);
        if (ey < -0.55) {
          const strand = 0.7 + 0.3 * Math.sin(x * 0.9 + Math.sin(y * 0.15) * 4);
          r = 70 * strand; g = 50 * strand; b = 35 * strand;
        } else {
          r = 225 * light; g = 175 * light; b = 150 * light;
          // Eyes and mouth: small dark features with edges.
          const eyeY = Math.abs(ey + 0.15) < 0.07, eyeX = Math.abs(Math.abs(ex) - 0.38) < 0.12;
          if ((eyeY && eyeX) || (Math.abs(ey - 0.45) < 0.04 && Math.abs(ex) < 0.3)) { r *= 0.35; g *= 0.3; b *= 0.3; }
        }
      }
      // Shoulders: a dark sweater with a knit texture.
      if (v > 0.82 && Math.abs(u - 0.5) < 0.32) {
        const knit = 0.85 + 0.15 * Math.sin(x * 0.6) * Math.sin(y * 0.6);
        r = 40 * knit; g = 60 * knit; b = 110 * knit;
      }
      const n = noise > 0 ? (random() + random() - 1) * noise : 0;
      const i = (y * width + x) * 3;
      rgb[i] = clamp(r + n);
      rgb[i + 1] = clamp(g + n);
      rgb[i + 2] = clamp(b + n);
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    rgba[q] = rgb[p]!;
    rgba[q + 1] = rgb[p + 1]!;
    rgba[q + 2] = rgb[p + 2]!;
    rgba[q + 3] = 255;
  }
  return { width, height, rgba, rgb, i420: rgbToI420(rgb, width, height) };
}

/** RGB to BT.601 limited-range I420, chroma averaged over each 2x2 block (edges: what exists). */
export function rgbToI420(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const cw = Math.ceil(width / 2), ch = Math.ceil(height / 2);
  const out = new Uint8Array(width * height + 2 * cw * ch);
  const uBase = width * height, vBase = uBase + cw * ch;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[y * width + x] = clamp(16 + (65.481 * rgb[i]! + 128.553 * rgb[i + 1]! + 24.966 * rgb[i + 2]!) / 255);
    }
  }
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let r = 0, g = 0, b = 0, n = 0;
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const x = cx * 2 + dx, y = cy * 2 + dy;
          if (x >= width || y >= height) continue;
          const i = (y * width + x) * 3;
          r += rgb[i]!; g += rgb[i + 1]!; b += rgb[i + 2]!; n++;
        }
      }
      r /= n; g /= n; b /= n;
      out[uBase + cy * cw + cx] = clamp(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      out[vBase + cy * cw + cx] = clamp(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  return out;
}
