// Builds the optional native oneDNN kernels (native/medsynth_dnnl.cc) when Debian's libdnnl-dev is
// installed; otherwise says so in one line and leaves medsynth on its wasm kernels. Never fails the
// install: the native path is an accelerator, not a requirement. When libjpeg-turbo's headers are there
// too (Debian's libjpeg62-turbo-dev), the addon also gets decodeJpeg (native/medsynth_jpeg.cc), which the
// image loader uses in place of the wasm JPEG decoder; without them it builds as before, without it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const header = process.env.MEDSYNTH_DNNL_HEADER ?? '/usr/include/oneapi/dnnl/dnnl.hpp';
const jpegHeader = process.env.MEDSYNTH_JPEG_HEADER ?? '/usr/include/jpeglib.h';

if (process.env.MEDSYNTH_NATIVE === '0') {
  console.log('medsynth: native kernels not built (MEDSYNTH_NATIVE=0)');
  process.exit(0);
}
if (!existsSync(header)) {
  console.log('medsynth: native oneDNN kernels not built (no libdnnl-dev); training uses the wasm kernels. For 3-5x faster training on CPU: apt-get install libdnnl-dev, then npm run build:native');
  process.exit(0);
}
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) {
  console.log('medsynth: native kernels not built (node-gyp not found); training uses the wasm kernels');
  process.exit(0);
}
const jpeg = existsSync(jpegHeader);
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--', `-Dmedsynth_jpeg=${jpeg ? 1 : 0}`], { cwd: join(root, 'native'), encoding: 'utf8' });
if (r.status !== 0) {
  const last = `${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
  console.log(`medsynth: native kernels failed to build (${last}); training uses the wasm kernels`);
  process.exit(0);
}
console.log(`medsynth: built native oneDNN kernels (native/build/Release/medsynth_dnnl.node), ${jpeg ? 'with' : 'without'} the libjpeg-turbo JPEG decoder${jpeg ? '' : ' (no libjpeg62-turbo-dev; JPEGs are decoded in wasm)'}`);
