// Test build only (never part of the CLI): trains an AUDIT run with a deliberate DP-SGD bug, so the canary
// audit's benchmark (eval/bench/canary-audit.ts) can check that each bug is caught. Not shipped in the
// npm package. Usage: node scripts/audit-break.mjs OUT '<RunConfig JSON with auditCanaries.break>'
import { initBackend } from '../dist/src/backend/index.js';
import { trainRun } from '../dist/src/train/run.js';

const [out, json] = process.argv.slice(2);
if (!out || !json) {
  process.stderr.write("usage: node scripts/audit-break.mjs OUT '<RunConfig JSON>'\n");
  process.exit(2);
}
const cfg = JSON.parse(json);
if (!cfg.auditCanaries?.break) {
  process.stderr.write('audit-break: the RunConfig has no auditCanaries.break; use medsynth train for a correct run\n');
  process.exit(2);
}
const backend = await initBackend(process.env.MEDSYNTH_BACKEND ?? 'auto');
const summary = await trainRun(out, cfg, { backend, onWarning: () => {} });
process.stdout.write(JSON.stringify({ event: 'end', ...summary }) + '\n');
