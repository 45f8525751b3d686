import { describe, expect, it } from 'vitest'
import { maskSecret } from '../../src/vault/mask.js'

describe('maskSecret', () => {
  it('shows only the last 4 characters behind a fixed 8 bullets', () => {
    expect(maskSecret('a1b2c3d4e5f6c919')).toBe('••••••••c919')
    expect(maskSecret('xc919')).toBe('••••••••c919')
    expect(maskSecret(`${'x'.repeat(200)}c919`)).toBe('••••••••c919')
  })

  it('shows nothing of 4 characters or fewer', () => {
    for (const s of ['', 'a', 'abcd']) expect(maskSecret(s)).toBe('••••••••')
  })

  it('never splits a character made of two UTF-16 units', () => {
    expect(maskSecret('secret🔑🔑🔑🔑')).toBe('••••••••🔑🔑🔑🔑')
  })
})
