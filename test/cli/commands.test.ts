import { describe, expect, it } from 'vitest'
import { createContext } from '../../commands/context.js'
import { COMMANDS, requestedCommand } from '../../commands/index.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'

describe('the lazily loaded command tree', () => {
  it('each stub says what the loaded command says', async () => {
    const ctx = createContext(testRuntime().rt)
    for (const e of COMMANDS) {
      const cmd = await e.load(ctx)
      expect(cmd.name(), e.name).toBe(e.name)
      expect(cmd.description(), e.name).toBe(e.description)
    }
  })

  it('finds the command argv asks for, past global flags and their values', () => {
    expect(requestedCommand(['--db', 'branch', 'tenant', 'list'])).toBe('tenant')
    expect(requestedCommand(['--json', 'branch', 'list'])).toBe('branch')
    expect(requestedCommand(['help', 'pay'])).toBe('pay')
    expect(requestedCommand(['--help'])).toBeUndefined()
  })

  it('dsh --help lists every command, and a command’s own help is complete', async () => {
    const top = await runInProcess(['--help'])
    for (const e of COMMANDS) expect(top.stdout).toContain(e.name)
    const pay = await runInProcess(['help', 'pay'])
    expect(pay.stdout).toContain('--idempotency-key')
    const sub = await runInProcess(['gateway', 'setup', '--help'])
    expect(sub.stdout).toContain('--consumer-secret-file')
    const typo = await runInProcess(['tennant', 'list'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('tenant')
  })
})
