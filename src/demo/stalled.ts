import { DshError } from '../core/errors.js'

/** The demo could not go on (a part did not answer in time): exit 6, with where to look. */
export const stalled = (message: string) =>
  new DshError('unavailable', 'demo_stalled', `the demo stopped: ${message}`, {
    hint: 'run it again with --keep and read demo-daemon.log in its home',
  })
