/**
 * Procedural chest-radiograph-like phantom: per-patient anatomy, per-image view, and the pixel renderer.
 *
 * Coordinates. Anatomy is described in normalised units: x grows to the right of the image and y downwards,
 * both in [0, 1], so (0.5, 0.5) is the image centre. The image is drawn as a PA view: the patient's right is
 * on the image left, so the heart sits right of centre. A pixel (px, py) of an S×S image is evaluated at its
 * centre u = (px + 0.5)/S, v = (py + 0.5)/S, mapped through the inverse of the view's pose (shift, rotation
 * about the centre, isotropic scale) into anatomy coordinates. Nothing depends on S except the edge
 * softness, so the same anatomy scales to any size.
 *
 * Intensity model. Brighter means more attenuation, as on a radiograph. The value at a point is a sum of
 * layers, each a soft-edged shape times a density:
 *   air 0.04
 *   + soft tissue: body silhouette (neck, sloping shoulders, thorax) × a thickness profile √(1 − (dx/w)²)
 *   − lungs: two egg-shaped ellipses (wider at the base) × (0.7 + 0.3·√(1 − d²))
 *   + vessel markings (thin lines fanning out of the hila, fading outwards) and a faint lung mottle
 *   + mediastinum band, aortic knob, heart (tilted ellipse right of centre, on the diaphragm)
 *   + bone × density: spine with vertebral banding, clavicles, posterior ribs (curved bands, 10 per side)
 *     and fainter anterior ribs
 *   + breast shadows (female only): soft ellipses over the lower lung fields, sharper along the lower edge
 *   − a small gastric air bubble under the left hemidiaphragm
 *   + lesions (disease only): round nodules (soft disks: 1 − smoothstep(0.55 r, r, distance)) and patchy
 *     opacities (4–7 Gaussian blobs b, combined as 1 − exp(−2 Σ_b w_b·exp(−d_b²/2σ_b²))), times the lesion
 *     contrast and the lung mask, so they stay inside the lung fields. Overlapping lesions add, up to 1.3×
 *     the largest lesion contrast.
 * Soft edges use smoothstep(a, b, t) = s²(3 − 2s), s = clamp((t − a)/(b − a), 0, 1), over a width of
 * max(0.008, 0.75/S) normalised units, which anti-aliases at every size.
 *
 * Demographic effects. Sex sets body habitus (shoulder and thorax width, lung size) and adds breast shadows
 * for female patients. Age lowers bone density (rib, spine and clavicle brightness fall by up to ~60 % from
 * 18 to 90 years), enlarges the heart slightly and lowers global contrast. The acquisition site sets the
 * detector noise level and the display gamma.
 *
 * Output pipeline per pixel: v ← 0.35 + (v − 0.35)·contrast (age); v ← v·gain + exposure (view);
 * v ← v + noise·N(0, 1) (site); v ← clamp(v, 0, 1)^gamma (site); byte = round(255·v).
 */
import type { Rng } from '../../src/core/rng.js';

export type Sex = 'female' | 'male';

/** One lesion: a cluster of blobs (a nodule is a single soft disk). Positions in anatomy units. */
export interface Lesion {
  kind: 'nodule' | 'patch';
  x: number;
  y: number;
  /** Radius (nodule) or cluster radius (patch), normalised units. */
  r: number;
  /** Peak added intensity. */
  contrast: number;
  /** Patch blobs: offset from (x, y), Gaussian sigma, relative weight. Empty for a nodule. */
  blobs: { dx: number; dy: number; sigma: number; w: number }[];
}

export interface Vessel {
  side: -1 | 1;
  angle: number;
  length: number;
  width: number;
}

/** Everything fixed for one patient; all images of the patient share it. Lengths in normalised units. */
export interface PatientAnatomy {
  sex: Sex;
  age: number;
  neckHalf: number;
  shoulderY: number;
  shoulderHalf: number;
  thoraxHalf: number;
  softTissue: number;
  /** Lung apex height (top of both lungs). */
  lungTop: number;
  /** Height of the lateral costophrenic angles (lowest lung point). */
  lungBottom: number;
  /** Lateral half-width reached by the outer lung border. */
  lungOuter: number;
  /** Medial (mediastinal) half-width of the lung border. */
  lungInner: number;
  /** Lateral position of the apex. */
  apexT: number;
  /** Height of the diaphragm dome above the costophrenic angle. */
  dome: number;
  lungDark: number;
  heartCx: number;
  heartCy: number;
  heartRx: number;
  heartRy: number;
  heartDensity: number;
  boneDensity: number;
  spinePhase: number;
  ribTop: number;
  ribSpacing: number;
  clavY: number;
  /** 0 for male; breast shadow size factor for female. */
  breast: number;
  breastY: number;
  contrast: number;
  vessels: Vessel[];
  mottle: { kx: number; ky: number; phase: number; amp: number }[];
  lesions: Lesion[];
}

/** Per-image pose and exposure jitter. */
export interface ViewJitter {
  dx: number;
  dy: number;
  rot: number;
  scale: number;
  exposure: number;
  gain: number;
}

/** Acquisition-site rendering parameters. */
export interface SiteLook {
  noise: number;
  gamma: number;
}

export interface LesionSpec {
  count: [number, number];
  radius: [number, number];
  contrast: number;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

function smoothstep(a: number, b: number, t: number): number {
  const s = clamp((t - a) / (b - a), 0, 1);
  return s * s * (3 - 2 * s);
}

/** 1 inside |t| < half, 0 outside, soft over ±e. */
function band(t: number, half: number, e: number): number {
  return 1 - smoothstep(half - e, half + e, Math.abs(t));
}

/** Soft "z > 0" indicator, ramping over ±e. */
function above(z: number, e: number): number {
  return smoothstep(-e, e, z);
}

/** Fraction of adult life elapsed, 0 at 18 and 1 at 90, clamped. */
export function ageFraction(age: number): number {
  return clamp((age - 18) / 72, 0, 1);
}

/** Draws one patient's anatomy. Lesions are drawn only when `disease`. */
export function sampleAnatomy(
  rng: Rng,
  p: { sex: Sex; age: number; disease: boolean; lesions: LesionSpec },
): PatientAnatomy {
  const n = (mean: number, sd: number, lo = -Infinity, hi = Infinity) => clamp(mean + sd * rng.normal(), lo, hi);
  const male = p.sex === 'male';
  const af = ageFraction(p.age);
  const thoraxHalf = n(male ? 0.4 : 0.365, 0.012, 0.33, 0.44);
  const lungTop = n(0.2, 0.012, 0.16, 0.24);
  const lungBottom = lungTop + n(male ? 0.56 : 0.53, 0.02, 0.46, 0.62);
  const lungOuter = thoraxHalf - n(0.035, 0.006, 0.02, 0.05);
  const lungInner = n(0.055, 0.005, 0.045, 0.07);
  const vessels: Vessel[] = [];
  for (const side of [-1, 1] as const) {
    for (let k = 0; k < 6; k++) {
      // Fan from up-and-out (−60°) to down-and-out (+75°) relative to the horizontal, pointing outwards.
      const base = -1.05 + (2.35 * (k + 0.5)) / 6;
      vessels.push({ side, angle: base + 0.12 * rng.normal(), length: rng.range(0.12, 0.2), width: rng.range(0.004, 0.007) });
    }
  }
  const mottle = Array.from({ length: 3 }, () => ({
    kx: rng.range(10, 24) * (rng.bernoulli(0.5) ? 1 : -1),
    ky: rng.range(10, 24),
    phase: rng.range(0, 2 * Math.PI),
    amp: rng.range(0.006, 0.012),
  }));
  const anat: PatientAnatomy = {
    sex: p.sex,
    age: p.age,
    neckHalf: n(male ? 0.085 : 0.075, 0.006, 0.06, 0.1),
    shoulderY: n(0.15, 0.012, 0.11, 0.19),
    shoulderHalf: n(male ? 0.48 : 0.43, 0.014, 0.39, 0.52),
    thoraxHalf,
    softTissue: n(male ? 0.45 : 0.43, 0.02, 0.37, 0.51),
    lungTop,
    lungBottom,
    lungOuter,
    lungInner,
    apexT: n(0.15, 0.008, 0.13, 0.17),
    dome: n(0.075, 0.008, 0.055, 0.095),
    lungDark: n(0.3, 0.015, 0.26, 0.34),
    heartCx: 0.5 + n(0.045, 0.01, 0.02, 0.07),
    heartCy: lungBottom - n(0.1, 0.01, 0.08, 0.12),
    heartRx: n(0.145, 0.01, 0.12, 0.17) * (1 + 0.12 * af),
    heartRy: n(0.095, 0.008, 0.075, 0.115) * (1 + 0.08 * af),
    heartDensity: n(0.15, 0.015, 0.11, 0.19),
    boneDensity: clamp((1.15 - 0.7 * af) * n(1, 0.06, 0.85, 1.15), 0.3, 1.3),
    spinePhase: rng.range(0, 1),
    ribTop: lungTop + n(0.03, 0.006, 0.015, 0.045),
    ribSpacing: ((lungBottom - lungTop) / 10.5) * n(1, 0.03, 0.92, 1.08),
    clavY: lungTop + n(0.02, 0.008, 0.0, 0.04),
    breast: male ? 0 : n(1, 0.15, 0.6, 1.4),
    breastY: lungBottom - n(0.12, 0.015, 0.09, 0.15),
    contrast: clamp(1.05 - 0.3 * af + 0.02 * rng.normal(), 0.6, 1.15),
    vessels,
    mottle,
    lesions: [],
  };
  if (p.disease) anat.lesions = sampleLesions(rng, anat, p.lesions);
  return anat;
}

/** Lesions placed by rejection sampling inside the lung fields, away from the lung border and the heart. */
function sampleLesions(rng: Rng, a: PatientAnatomy, spec: LesionSpec): Lesion[] {
  const count = spec.count[0] + rng.int(spec.count[1] - spec.count[0] + 1);
  const lesions: Lesion[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng.range(spec.radius[0], spec.radius[1]);
    const contrast = spec.contrast * rng.range(0.9, 1.1);
    const side = rng.bernoulli(0.5) ? 1 : -1;
    let x = 0.5 + side * (a.lungInner + a.lungOuter) / 2;
    let y = (a.lungTop + a.lungBottom) / 2;
    for (let tries = 0; tries < 200; tries++) {
      const tx = 0.5 + side * rng.range(a.lungInner, a.lungOuter);
      const ty = rng.range(a.lungTop, a.lungBottom);
      const m = lungMargins(a, tx, ty);
      const dh = heartDistance(a, tx, ty);
      if (Math.min(m.outer, m.inner, m.bottom) > 1.1 * r + 0.01 && m.top > r + 0.04 && dh > 1.1 + r / a.heartRx) {
        x = tx;
        y = ty;
        break;
      }
    }
    if (rng.bernoulli(0.5)) {
      lesions.push({ kind: 'nodule', x, y, r, contrast, blobs: [] });
    } else {
      const nb = 4 + rng.int(4);
      const blobs = Array.from({ length: nb }, () => {
        const ang = rng.range(0, 2 * Math.PI);
        const rad = r * 0.75 * Math.sqrt(rng.uniform());
        return { dx: rad * Math.cos(ang), dy: rad * Math.sin(ang), sigma: r * rng.range(0.45, 0.65), w: rng.range(0.6, 1.0) };
      });
      lesions.push({ kind: 'patch', x, y, r, contrast, blobs });
    }
  }
  return lesions;
}

/**
 * Signed margins of (x, y) from the four borders of its lung (positive inside), plus the relative lateral
 * position f in [0, 1] (0 medial, 1 lateral). The lung on each side is bounded by
 *   top:    y = lungTop (the apex);
 *   outer:  t = apexT + (lungOuter − apexT)·√clamp((y − top)/(0.55 H), 0, 1)   (t = |x − 0.5|, H = height)
 *   inner:  t = apexT − (apexT − lungInner)·√clamp((y − top)/(0.2 H), 0, 1)
 *   bottom: the diaphragm, y = bottom − dome·sin(πu), u = 0.1 + 0.9·f, so the dome peaks medially of
 *           centre and the lateral costophrenic angle is the lowest point.
 * The image-left (patient right) hemidiaphragm sits 0.015 higher, as the right one does.
 */
function lungMargins(a: PatientAnatomy, x: number, y: number): { outer: number; inner: number; top: number; bottom: number; f: number } {
  const t = Math.abs(x - 0.5);
  const bottomY = a.lungBottom - (x < 0.5 ? 0.015 : 0);
  const h = bottomY - a.lungTop;
  const yr = y - a.lungTop;
  const outerT = a.apexT + (a.lungOuter - a.apexT) * Math.sqrt(clamp(yr / (0.55 * h), 0, 1));
  const innerT = a.apexT - (a.apexT - a.lungInner) * Math.sqrt(clamp(yr / (0.2 * h), 0, 1));
  const f = clamp((t - innerT) / Math.max(1e-6, outerT - innerT), 0, 1);
  const u = 0.1 + 0.9 * f;
  const diaphragm = bottomY - a.dome * Math.sin(Math.PI * u);
  return { outer: outerT - t, inner: t - innerT, top: yr, bottom: diaphragm - y, f };
}

/** Normalised distance from the heart centre (< 1 inside); the ellipse is tilted so its apex points down-right. */
function heartDistance(a: PatientAnatomy, x: number, y: number): number {
  const c = Math.cos(HEART_TILT);
  const s = Math.sin(HEART_TILT);
  const dx = x - a.heartCx;
  const dy = y - a.heartCy;
  return Math.hypot((c * dx + s * dy) / a.heartRx, (-s * dx + c * dy) / a.heartRy);
}

const HEART_TILT = 0.35;

/** Soft lung-field mask in [0, 1] (both lungs). */
export function lungMask(a: PatientAnatomy, x: number, y: number, e: number): number {
  const m = lungMargins(a, x, y);
  return above(m.outer, e) * above(m.inner, e) * above(m.top, e) * above(m.bottom, e);
}

/** Body half-width at height y: neck, sloping shoulders, then a gently curved chest wall and waist. */
function bodyHalfWidth(a: PatientAnatomy, y: number): number {
  if (y < a.shoulderY) {
    const s = smoothstep(a.shoulderY - 0.12, a.shoulderY + 0.01, y);
    return a.neckHalf + (a.shoulderHalf - a.neckHalf) * Math.sqrt(s);
  }
  const toThorax = smoothstep(a.shoulderY, a.shoulderY + 0.2, y);
  const bulge = 0.015 * Math.sin(Math.PI * clamp((y - 0.3) / 0.6, 0, 1));
  return a.shoulderHalf + (a.thoraxHalf - a.shoulderHalf) * toThorax + bulge - 0.035 * smoothstep(0.8, 1.05, y);
}

/** Linear-attenuation-like value at anatomy point (x, y), before contrast, exposure, noise and gamma. */
export function density(a: PatientAnatomy, x: number, y: number, e: number): number {
  const ax = Math.abs(x - 0.5);
  const side: -1 | 1 = x < 0.5 ? -1 : 1;
  const air = 0.04;

  // Soft tissue with a thickness profile across the body.
  const hw = bodyHalfWidth(a, y);
  const body = 1 - smoothstep(hw - e, hw + e, ax);
  if (body <= 0) return air;
  const thick = Math.sqrt(Math.max(0, 1 - (ax / (hw + e)) ** 2));
  let v = air + a.softTissue * (0.3 + 0.7 * thick);

  // Lungs.
  const m = lungMargins(a, x, y);
  const lung = above(m.outer, e) * above(m.inner, e) * above(m.top, e) * above(m.bottom, e);
  if (lung > 0) {
    const across = Math.sqrt(4 * m.f * (1 - m.f));
    const deep = smoothstep(0, 0.06, m.bottom) * smoothstep(0, 0.05, m.top);
    v -= lung * a.lungDark * (0.6 + 0.25 * across + 0.15 * deep);
    // Vessel markings: thin lines fanning out of the hilum, fading with distance.
    const hx = 0.5 + side * (a.lungInner + 0.03);
    const hy = a.lungTop + 0.42 * (a.lungBottom - a.lungTop);
    let vess = 0;
    for (const ves of a.vessels) {
      if (ves.side !== side) continue;
      const dxv = side * Math.cos(ves.angle);
      const dyv = Math.sin(ves.angle);
      const px = x - hx;
      const py = y - hy;
      const t = clamp(px * dxv + py * dyv, 0, ves.length);
      const dist = Math.hypot(px - t * dxv, py - t * dyv);
      const w = ves.width * (1 - 0.5 * (t / ves.length)) + 0.35 * e;
      vess += Math.exp(-(dist * dist) / (2 * w * w)) * (1 - t / ves.length);
    }
    v += lung * 0.07 * Math.min(1, vess);
    let mot = 0;
    for (const mo of a.mottle) mot += mo.amp * Math.sin(mo.kx * x + mo.ky * y + mo.phase);
    v += lung * mot;
    // Hilum: a faint dense region where the vessels start.
    const hil = Math.hypot((x - hx) / 0.035, (y - hy) / 0.06);
    v += lung * 0.07 * (1 - smoothstep(0.3, 1.2, hil));
  }

  // Mediastinum, aortic knob and heart.
  const mw = a.lungInner + 0.005 + 0.02 * smoothstep(a.lungTop + 0.1, a.lungTop + 0.35, y);
  v += 0.06 * band(x - 0.5, mw, e) * smoothstep(0.05, 0.15, y) * (1 - smoothstep(a.lungBottom, a.lungBottom + 0.1, y));
  const knobY = a.lungTop + 0.13;
  const knob = Math.hypot(x - (0.5 + a.lungInner + 0.005), y - knobY) / 0.032;
  v += 0.06 * (1 - smoothstep(1 - e / 0.032, 1 + e / 0.032, knob));
  const dh = heartDistance(a, x, y);
  if (dh < 1.3) {
    const eh = e / a.heartRy;
    v += a.heartDensity * (1 - smoothstep(1 - eh, 1 + eh, dh)) * (0.65 + 0.35 * Math.sqrt(Math.max(0, 1 - dh * dh)));
  }

  // Bones.
  const bone = a.boneDensity;
  const spine = band(x - 0.5, 0.03, e) * smoothstep(0.0, 0.12, y);
  if (spine > 0) {
    const vert = 0.5 + 0.5 * Math.cos((2 * Math.PI * (y - a.spinePhase)) / 0.055);
    v += spine * bone * (0.035 + 0.035 * vert);
  }
  // Clavicles: from the sternal end, laterally and upwards with a gentle S-curve, to the shoulder.
  const tc = (ax - 0.045) / 0.3;
  if (tc > -0.1 && tc < 1.1) {
    const yc = a.clavY + 0.03 - 0.05 * tc + 0.012 * Math.sin(2 * Math.PI * tc);
    const clav = band(y - yc, 0.017, e) * band(tc - 0.5, 0.5, e / 0.3);
    v += clav * bone * 0.16;
  }
  // Ribs, 10 per side. Posterior ribs leave the spine, rise laterally, then curve down at the chest wall;
  // anterior ribs (fainter) run from the chest wall downwards towards the middle.
  const ribHalf = a.ribSpacing * 0.22 + 0.1 * e;
  const wall = hw - 0.015;
  const latMask = smoothstep(0.025, 0.045, ax) * (1 - smoothstep(wall - 2 * e, wall, ax));
  if (latMask > 0) {
    const post = -0.3 * ax + 2.2 * Math.max(0, ax - 0.13) ** 2;
    let ribs = 0;
    for (let k = 0; k < 10; k++) {
      const y0 = a.ribTop + k * a.ribSpacing * (1 + 0.03 * k);
      ribs += band(y - (y0 + post), ribHalf, e);
      const ant = y0 + 0.1 + 0.45 * Math.max(0, wall - 0.02 - ax);
      ribs += 0.4 * band(y - ant, ribHalf * 0.85, e) * smoothstep(0.1, 0.16, ax);
    }
    v += latMask * Math.min(1.4, ribs) * bone * 0.08 * (1 - smoothstep(a.lungBottom, a.lungBottom + 0.12, y));
  }

  // Breast shadows (female): soft upper edge, sharper inframammary fold.
  if (a.breast > 0) {
    const bx = 0.5 + side * (a.apexT + 0.08);
    const rx = 0.17 * Math.sqrt(a.breast);
    const ry = 0.13 * Math.sqrt(a.breast);
    const yy = (y - a.breastY) / ry;
    const db = Math.hypot((x - bx) / rx, yy);
    const soft = 0.08 + e / ry + 0.62 * (1 - smoothstep(-0.8, 0.2, yy));
    v += 0.16 * a.breast * (1 - smoothstep(1 - soft, 1 + 0.04, db)) * (0.6 + 0.4 * Math.sqrt(Math.max(0, 1 - Math.min(1, db) ** 2)));
  }

  // Gastric air bubble under the left hemidiaphragm (image right).
  const gb = Math.hypot((x - (0.5 + a.apexT + 0.04)) / 0.05, (y - (a.lungBottom + 0.03)) / 0.025);
  v -= 0.07 * (1 - smoothstep(0.6, 1.1, gb));

  // Lesions.
  if (a.lesions.length > 0 && lung > 0) {
    let les = 0;
    let cap = 0;
    for (const l of a.lesions) {
      cap = Math.max(cap, 1.3 * l.contrast);
      if (l.kind === 'nodule') {
        const d = Math.hypot(x - l.x, y - l.y);
        les += l.contrast * (1 - smoothstep(0.55 * l.r, l.r + e, d));
      } else {
        let s = 0;
        for (const b of l.blobs) {
          const d2 = (x - l.x - b.dx) ** 2 + (y - l.y - b.dy) ** 2;
          s += b.w * Math.exp(-d2 / (2 * b.sigma * b.sigma));
        }
        les += l.contrast * (1 - Math.exp(-2 * s));
      }
    }
    v += lung * Math.min(les, cap);
  }
  // Outside the silhouette only air remains.
  return v * body + air * (1 - body);
}

/**
 * Renders one S×S 8-bit grey image. `noiseRng` supplies the detector noise (one normal draw per pixel,
 * row-major), so the image is a pure function of its inputs.
 */
export function renderImage(a: PatientAnatomy, view: ViewJitter, site: SiteLook, size: number, noiseRng: Rng): Uint8Array {
  const out = new Uint8Array(size * size);
  const e = Math.max(0.008, 0.75 / size);
  const c = Math.cos(view.rot);
  const s = Math.sin(view.rot);
  for (let py = 0; py < size; py++) {
    const v0 = (py + 0.5) / size - 0.5 - view.dy;
    for (let px = 0; px < size; px++) {
      const u0 = (px + 0.5) / size - 0.5 - view.dx;
      const x = 0.5 + (c * u0 + s * v0) / view.scale;
      const y = 0.5 + (-s * u0 + c * v0) / view.scale;
      let v = density(a, x, y, e);
      v = 0.35 + (v - 0.35) * a.contrast;
      v = v * view.gain + view.exposure;
      v += site.noise * noiseRng.normal();
      v = clamp(v, 0, 1) ** site.gamma;
      out[py * size + px] = Math.round(255 * v);
    }
  }
  return out;
}

/** Per-image pose and exposure jitter (small: a repeat view of the same patient). */
export function sampleView(rng: Rng): ViewJitter {
  const n = (sd: number, lim: number) => clamp(sd * rng.normal(), -lim, lim);
  return {
    dx: n(0.012, 0.03),
    dy: n(0.012, 0.03),
    rot: n(0.025, 0.06),
    scale: 1 + n(0.02, 0.05),
    exposure: n(0.02, 0.05),
    gain: 1 + n(0.04, 0.1),
  };
}
