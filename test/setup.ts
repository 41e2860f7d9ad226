import { beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { IN_CONTAINER } from './sandboxHost';

// In a container (RLHF_TEST_CONTAINER=1, see test/sandboxHost.ts) the grader's tests use its mode
// "uid" wherever they do not choose one, as the grader itself falls back to there.
if (IN_CONTAINER && !process.env.RLHF_GRADER_SANDBOX) process.env.RLHF_GRADER_SANDBOX = 'uid';

// Tests that use tf directly (without initBackend) start on the plain cpu backend, with its
// "install tfjs-node" stderr banner switched off (the banner is printed by the backend instance
// on first use, so it is silenced on the instance setBackend creates).
beforeAll(async () => {
  if (tf.getBackend() === undefined || tf.getBackend() === 'cpu') {
    await tf.setBackend('cpu');
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
});
