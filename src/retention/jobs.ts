import type { JobProvider } from '../context.js'
import { prune } from './retention.js'

/**
 * The daemon's daily `prune` job (03:41, the machine's time zone): the same as `dsh prune`,
 * removing expired events and final inbox entries in short transactions between callbacks.
 */
export const retentionJobs: JobProvider = async (ctx) => [
  {
    name: 'prune',
    cron: '0 41 3 * * *',
    async run() {
      const r = await prune(ctx)
      return {
        summary: `removed ${r.events.removed} events before ${r.events.before} and ${r.inbox.removed} inbox entries before ${r.inbox.before} in ${r.transactions} transactions (longest ${r.maxTransactionMs} ms)`,
      }
    },
  },
]
