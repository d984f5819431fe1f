// Marks the CLI entry point executable after `tsc` (tsc keeps the shebang but not the mode bit).
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/src/cli/bin.js', import.meta.url), 0o755);
