/** Every generator medsynth ships, registered once. Import this module to use `generatorFactory`. */
import { cvaeFactory } from './cvae/index.js';
import { generatorKinds, registerGenerator } from './generator.js';

if (!generatorKinds().includes('cvae')) registerGenerator(cvaeFactory);

export { generatorFactory, generatorKinds } from './generator.js';
