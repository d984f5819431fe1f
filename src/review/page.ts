/**
 * The review page: one self-contained HTML document (inline CSS and script under a CSP nonce, no external
 * resource, works offline). Images come from this server only. Text from the manifest is set with
 * textContent, never parsed as HTML.
 *
 * Keys: ←/→ (or k/j) previous/next image, a accept, r reject (then 1-5 for the reason; 5 "other" asks for a
 * note, Enter saves, Esc cancels), s skip, + / - zoom the grid, z or Enter enlarges the current image,
 * Esc closes, ? shows the keys. With --show-nearest, the nearest REAL training image sits beside the current
 * sample and beside the enlarged one; the header says whether the check is on.
 */
import { escapeHtml } from '../core/html.js';

export interface PageOptions {
  token: string;
  reviewer: string;
  nonce: string;
  reasons: string[];
  /** --show-nearest: show the nearest REAL training image beside the current one. */
  showNearest: boolean;
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#111827;color:#e5e7eb}
header{position:sticky;top:0;z-index:2;background:#0f172a;border-bottom:1px solid #334155;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:17px;margin:0}#progress{font-variant-numeric:tabular-nums}.muted{color:#94a3b8}
kbd{background:#334155;border-radius:3px;padding:0 4px;font:12px ui-monospace,monospace}
main{padding:8px 16px 120px}section.cell{margin:12px 0}section.cell h2{font-size:15px;margin:8px 0;color:#cbd5e1}
.grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;position:relative;border:3px solid transparent;border-radius:4px;cursor:pointer;background:#000}
figure img{display:block;image-rendering:pixelated;width:var(--zoom);height:var(--zoom)}
figure.current{border-color:#38bdf8}figure.accept{outline:3px solid #22c55e}figure.reject{outline:3px solid #ef4444}figure.skip{outline:3px dashed #eab308}
figure .badge{position:absolute;left:0;bottom:0;font-size:11px;padding:1px 4px;background:rgba(0,0,0,.75)}
#panel{position:fixed;left:0;right:0;bottom:0;background:#0f172a;border-top:1px solid #334155;padding:8px 16px;z-index:3}
#reasons{display:none;gap:8px;flex-wrap:wrap;margin-top:6px}#reasons.open{display:flex}#reasons button{background:#1e293b;color:#e5e7eb;border:1px solid #475569;border-radius:4px;padding:4px 8px}
#note{display:none;width:320px}#note.open{display:inline-block}
#big{display:none;position:fixed;inset:0;background:rgba(0,0,0,.92);z-index:4;align-items:center;justify-content:center;flex-direction:column}
#big.open{display:flex}#big img{image-rendering:pixelated;width:min(85vh,90vw);height:min(85vh,90vw)}
#nearpair{display:flex;gap:12px;align-items:flex-start}#nearpair img{image-rendering:pixelated;width:128px;height:128px;border:2px solid #f97316}#bigpair{display:flex;gap:16px}#bigpair img+img{border:3px solid #f97316}
#big.near #bigpair img{width:min(85vh,45vw);height:min(85vh,45vw)}
#help{display:none}#help.open{display:block}#status{min-height:1.4em}`;

const SCRIPT = `'use strict';
const CFG = JSON.parse(document.getElementById('cfg').textContent);
const q = (path) => path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(CFG.token);
let images = [], figs = [], cur = 0, zoom = 160, decisions = {}, rejecting = false;
const $ = (id) => document.getElementById(id);
function status(t, bad) { $('status').textContent = t; $('status').style.color = bad ? '#f87171' : '#a3e635'; }
function label(d) { return d ? (d.decision === 'reject' ? 'rejected: ' + d.reason + (d.note ? ' (' + d.note + ')' : '') : d.decision + (d.decision === 'accept' ? 'ed' : 'ped')) : ''; }
function paint(i) {
  const f = figs[i], d = decisions[images[i].image];
  f.className = (i === cur ? 'current ' : '') + (d ? d.decision : '');
  f.querySelector('.badge').textContent = label(d);
}
function progress() {
  const n = images.filter((s) => decisions[s.image] && decisions[s.image].decision !== 'skip').length;
  $('progress').textContent = n + ' / ' + images.length + ' decided by ' + CFG.reviewer;
}
function select(i) {
  if (!images.length) return;
  const old = cur; cur = Math.max(0, Math.min(images.length - 1, i)); paint(old); paint(cur);
  figs[cur].scrollIntoView({ block: 'nearest' });
  const s = images[cur];
  $('current').textContent = s.image + ' (' + s.cell + ')';
  if ($('big').classList.contains('open')) showBig();
  if (CFG.showNearest) $('near').src = nearSrc();
}
function nearSrc() { return q('/nearest/' + images[cur].image.split('/').map(encodeURIComponent).join('/')); }
function showBig() {
  $('bigimg').src = figs[cur].querySelector('img').src;
  if (CFG.showNearest) $('bignear').src = nearSrc();
  $('bigcap').textContent = $('current').textContent + (CFG.showNearest ? ' | right: nearest REAL training image (pixel distance)' : '');
  $('big').classList.add('open');
}
async function decide(decision, reason, note) {
  // Move on at once, so fast keyboard work never decides the same image twice; paint when saved.
  const i = cur, s = images[i];
  const next = images.findIndex((x, k) => k > i && !decisions[x.image]);
  select(next >= 0 ? next : i + 1);
  const body = { image: s.image, decision };
  if (reason) body.reason = reason;
  if (note) body.note = note;
  try {
    const r = await fetch(q('/api/decision'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) { status('not saved: ' + s.image + ': ' + r.status + ' ' + (await r.text()), true); return; }
    decisions[s.image] = (await r.json()).entry;
    paint(i); progress(); status('saved: ' + s.image + ' ' + label(decisions[s.image]));
  } catch (e) { status('not saved: ' + s.image + ': ' + e, true); }
}
function openReasons(open) { rejecting = open; $('reasons').classList.toggle('open', open); if (!open) { $('note').blur(); $('note').classList.remove('open'); $('note').value = ''; } }
function pickReason(k) {
  const reason = CFG.reasons[k]; if (!reason) return;
  if (reason === 'other') { $('note').classList.add('open'); $('note').focus(); return; }
  openReasons(false); decide('reject', reason);
}
function setZoom(z) { zoom = Math.max(48, Math.min(512, z)); document.documentElement.style.setProperty('--zoom', zoom + 'px'); $('zoom').textContent = zoom + ' px'; }
document.addEventListener('keydown', (e) => {
  if (e.target === $('note')) {
    if (e.key === 'Enter' && $('note').value.trim()) { const n = $('note').value.trim(); openReasons(false); decide('reject', 'other', n); }
    if (e.key === 'Escape') openReasons(false);
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (rejecting) {
    if (/^[1-9]$/.test(e.key)) { pickReason(Number(e.key) - 1); e.preventDefault(); }
    else if (e.key === 'Escape') openReasons(false);
    return;
  }
  switch (e.key) {
    case 'ArrowRight': case 'j': select(cur + 1); break;
    case 'ArrowLeft': case 'k': select(cur - 1); break;
    case 'a': decide('accept'); break;
    case 'r': openReasons(true); break;
    case 's': decide('skip'); break;
    case '+': case '=': setZoom(zoom * 1.25); break;
    case '-': setZoom(zoom / 1.25); break;
    case 'z': case 'Enter': showBig(); break;
    case 'Escape': $('big').classList.remove('open'); $('help').classList.remove('open'); break;
    case '?': $('help').classList.toggle('open'); break;
    default: return;
  }
  e.preventDefault();
});
async function load() {
  const r = await fetch(q('/api/state'));
  if (!r.ok) { status('cannot load: ' + r.status, true); return; }
  const st = await r.json();
  decisions = st.decisions;
  const main = $('cells');
  for (const c of st.cells) {
    const sec = document.createElement('section'); sec.className = 'cell';
    const h = document.createElement('h2'); h.textContent = c.cell + ' (' + c.images.length + ')'; sec.appendChild(h);
    const g = document.createElement('div'); g.className = 'grid';
    for (const s of c.images) {
      const i = images.length; images.push({ ...s, cell: c.cell });
      const f = document.createElement('figure'); f.dataset.image = s.image;
      const img = document.createElement('img'); img.alt = s.image; img.src = q('/img/' + s.image.split('/').map(encodeURIComponent).join('/'));
      const b = document.createElement('span'); b.className = 'badge';
      f.append(img, b); f.addEventListener('click', () => select(i));
      g.appendChild(f); figs.push(f);
    }
    sec.appendChild(g); main.appendChild(sec);
  }
  const others = Object.entries(st.otherReviewers).map(([k, v]) => k + ' (' + v + ')').join(', ');
  $('others').textContent = others ? 'Also in the log: ' + others + '.' : '';
  images.forEach((_, i) => paint(i)); progress();
  const first = images.findIndex((x) => !decisions[x.image]);
  select(first >= 0 ? first : 0);
  document.body.dataset.ready = '1';
}
CFG.reasons.forEach((r, k) => { const b = document.createElement('button'); b.textContent = (k + 1) + ' ' + r; b.addEventListener('click', () => pickReason(k)); $('reasonlist').appendChild(b); });
$('big').addEventListener('click', () => $('big').classList.remove('open'));
if (CFG.showNearest) $('big').classList.add('near'); else { $('bignear').remove(); $('near').remove(); }
setZoom(zoom);
load();`;

/** The page, with the token and reviewer as JSON in an inert script element (never interpolated into code). */
export function reviewPage(o: PageOptions): string {
  const cfg = JSON.stringify({ token: o.token, reviewer: o.reviewer, reasons: o.reasons, showNearest: o.showNearest }).replace(/</g, '\\u003c');
  const esc = escapeHtml;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>medsynth review</title><style nonce="${o.nonce}">${CSS}</style></head>
<body>
<header><h1>medsynth review</h1><span>reviewer <b>${esc(o.reviewer)}</b></span><span id="progress"></span><span class="muted">zoom <span id="zoom"></span></span>
${
    o.showNearest
      ? '<span id="nearnote"><b>Near-copy check ON:</b> the nearest REAL training image (pixel distance) is shown beside the current sample and in the enlarged view; it is held in memory only and never written.</span>'
      : '<span id="nearnote" class="muted">Synthetic images only. Near-copy check off: no real image is shown (start with --show-nearest RUN to see the nearest training image).</span>'
  }
<span class="muted">Press <kbd>?</kbd> for keys.</span></header>
<main><p id="others" class="muted"></p>
<div id="help" class="muted"><p><kbd>←</kbd>/<kbd>→</kbd> or <kbd>k</kbd>/<kbd>j</kbd> previous / next &nbsp; <kbd>a</kbd> accept &nbsp; <kbd>r</kbd> reject, then <kbd>1</kbd>–<kbd>5</kbd> reason (<kbd>5</kbd> other: type a note, <kbd>Enter</kbd>) &nbsp; <kbd>s</kbd> skip &nbsp; <kbd>+</kbd>/<kbd>-</kbd> zoom &nbsp; <kbd>z</kbd> or <kbd>Enter</kbd> enlarge, <kbd>Esc</kbd> close. Decisions are appended to review.jsonl in the samples folder; your latest decision per image counts.</p></div>
<div id="cells"></div></main>
<div id="panel"><div id="nearpair"><div><div>current: <span id="current"></span></div><div id="status"></div></div><img id="near" alt="nearest real training image"></div>
<div id="reasons"><span>reject because:</span><span id="reasonlist"></span><input id="note" placeholder="what is wrong (Enter saves, Esc cancels)" maxlength="2000"></div></div>
<div id="big"><div id="bigpair"><img id="bigimg" alt="enlarged sample"><img id="bignear" alt="nearest real training image"></div><p id="bigcap"></p></div>
<script type="application/json" id="cfg">${cfg}</script>
<script nonce="${o.nonce}">${SCRIPT}</script>
</body></html>
`;
}
