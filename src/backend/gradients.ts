/**
 * Gradient definitions medsynth replaces for speed; the math is unchanged.
 *
 * LeakyRelu: y = x for x > 0, alpha·x otherwise, so dy/dx = step(x, alpha) (1 for x > 0, alpha otherwise,
 * including x = 0, as in tfjs's own definition). tfjs builds it as select(greater(x, 0), dy, alpha·dy):
 * a broadcast comparison and a select, both slow generic loops on wasm (≈3 ms each on a 64×14×14×64
 * activation). Relu is the same with alpha = 0 (tfjs: mul(dy, cast(step(x), 'float32')), a Cast that
 * copies on wasm).
 *
 * Where the current backend has the one-pass kernel `MedsynthLeakyReluGrad` (the native addon's, on wasm:
 * src/backend/native.ts), dx = dy · step(x, alpha) is that one kernel; elsewhere it is step, then one
 * same-shape multiply. Both round each product once to float32, so the bits are the same either way.
 */
import * as tf from '@tensorflow/tfjs';
import { LEAKY_RELU_GRAD } from './native.js';

let registered = false;

function stepGrad(dy: tf.Tensor, x: tf.Tensor, alpha: number): tf.Tensor {
  if (tf.getKernel(LEAKY_RELU_GRAD, tf.getBackend())) return tf.engine().runKernel(LEAKY_RELU_GRAD, { dy, x } as never, { alpha } as never) as tf.Tensor;
  return tf.mul(dy, tf.step(x, alpha));
}

export function registerFastGradients(): void {
  if (registered) return;
  tf.registerGradient({
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const alpha = (attrs as { alpha: number }).alpha;
      return { x: () => stepGrad(dy as tf.Tensor, x!, alpha) };
    },
  });
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as tf.Tensor[];
      return { x: () => stepGrad(dy as tf.Tensor, x!, 0) };
    },
  });
  registered = true;
}
