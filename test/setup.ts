import { beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';

// Tests that use tf directly (without initBackend) start on the plain cpu backend, with its
// "install tfjs-node" stderr banner switched off (the banner is printed by the backend instance
// on first use, so it is silenced on the instance setBackend creates).
beforeAll(async () => {
  if (tf.getBackend() === undefined || tf.getBackend() === 'cpu') {
    await tf.setBackend('cpu');
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
});
