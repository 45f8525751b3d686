import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { printable, renderTable } from '../../src/cli/output.js'
import { dsh } from '../helpers/cli.js'
import { tempHome } from '../helpers/temp-home.js'

/** Issue 23, item 9: control characters in stored names never reach the terminal raw. */
describe('control characters in terminal output', () => {
  it('printable: ESC, BEL, CR, DEL, C1 and bidi overrides are `?`; plain text unchanged', () => {
    expect(printable('E\u001b]0;pwned\u0007')).toBe('E?]0;pwned?')
    expect(printable('a\rb\u007fc\u009bd\u202ee')).toBe('a?b?c?d?e')
    expect(printable('two\nlines\tand a tab')).toBe('two\nlines\tand a tab')
    expect(printable('two\nlines', true)).toBe('two?lines')
    expect(printable('Westlands — Café 1,234.50')).toBe('Westlands — Café 1,234.50')
  })

  it('a table shows them as `?` and keeps its own colours only', () => {
    const t = renderTable(['Code', 'Name', 'Status'], [['e1', 'E\u001b]0;pwned\u0007', 'active']], {
      color: true,
    })
    expect(t).toContain('E?]0;pwned?')
    expect(t).not.toContain('\u0007')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the table's own colours
    expect(t.replace(/\u001b\[(1|22|32|39)m/g, '')).not.toContain('\u001b')
  })

  it('`dsh branch list` of a name stored with an escape sequence prints `?` for them', async () => {
    const { home, cleanup } = tempHome()
    try {
      const env = { DSH_HOME: home }
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'evil', '--tenant', 'acme', '--name', 'Evil', '--currency', 'KES'],
      ])
        expect((await dsh(args, { env })).code).toBe(0)
      // As a store written before names were checked at input would hold it.
      const db = new Database(join(home, 'dsh.db'))
      db.prepare("UPDATE branches SET name = ? WHERE code = 'evil'").run(
        'E\u001b]0;pwned\u0007\r\u001b[2J',
      )
      db.close()
      const list = await dsh(['branch', 'list'], { env })
      expect(list.code, list.stderr).toBe(0)
      expect(list.stdout).toContain('E?]0;pwned???[2J')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not be printed
      expect(list.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/)
      // JSON keeps the name as data (JSON escapes it: nothing raw on stdout either).
      const json = await dsh(['branch', 'list', '--json'], { env })
      expect(json.stdout).not.toContain('\u001b')
      expect(json.json<{ name: string }[]>()[0]?.name).toBe('E\u001b]0;pwned\u0007\r\u001b[2J')
      const show = await dsh(['branch', 'show', 'evil'], { env })
      expect(show.stdout).toContain('E?]0;pwned???[2J')
      expect(show.stdout).not.toContain('\u001b')
    } finally {
      cleanup()
    }
  })
})
