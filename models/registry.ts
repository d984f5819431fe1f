/** Every generator medsynth ships, registered once. Import this module to use `generatorFactory`. */
import { cvaeFactory } from './cvae/index.js';
import { dpganFactory } from './dpgan/index.js';
import { dpmerfFactory } from './dpmerf/index.js';
import { generatorKinds, registerGenerator } from './generator.js';

if (!generatorKinds().includes('cvae')) registerGenerator(cvaeFactory);
if (!generatorKinds().includes('dpgan')) registerGenerator(dpganFactory);
if (!generatorKinds().includes('dpmerf')) registerGenerator(dpmerfFactory);

export { generatorFactory, generatorKinds } from './generator.js';
