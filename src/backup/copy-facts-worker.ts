import { parentPort, workerData } from 'node:worker_threads'
import { DshError } from '../core/errors.js'
import { describeCopy } from './copy-facts.js'

// The worker thread of describeCopyOffThread (copy-facts.ts): one copy, one answer.
const { file } = workerData as { file: string }
describeCopy(file).then(
  (facts) => parentPort?.postMessage({ ok: true, facts }),
  (err: unknown) =>
    parentPort?.postMessage({
      ok: false,
      kind: err instanceof DshError ? err.kind : undefined,
      code: err instanceof DshError ? err.code : undefined,
      message: err instanceof Error ? err.message : String(err),
    }),
)
