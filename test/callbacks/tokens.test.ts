import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { putSetting } from '../../src/admin/settings-store.js'
import { type App, createApp } from '../../src/app.js'
import { branchForToken, callbackToken } from '../../src/callbacks/callback-url.js'
import { findBranchByCode } from '../../src/tenants/branches-store.js'
import { decryptSecret, keyIdOf } from '../../src/vault/crypto.js'
import { loadKeyRing } from '../../src/vault/master-key.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess, testRuntime } from '../helpers/run-cli.js'

interface Row {
  key: string
  value: string
}

/** Callback path tokens are secrets (they alone authenticate Daraja and KCB callbacks). */
describe.each(DIALECTS)('callback path tokens on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('sealed by the vault', () => {
    const s = useStoreEnv(name)
    const run = (...args: string[]) => runInProcess(args, { env: s.env })
    let app: App
    const ids: Record<string, string> = {}
    const urlOf = async (type: string, branch: string) => {
      const r = await run('gateway', 'callback-url', type, '--branch', branch, '--json')
      expect(r.code, r.stderr).toBe(0)
      return r.json<{ url: string }>().url
    }
    const tokenOf = (url: string) => url.split('/').pop() ?? ''
    const settings = async (): Promise<Row[]> => {
      const store = await app.store()
      return store.db.selectFrom('settings').select(['key', 'value']).orderBy('key').execute()
    }

    beforeAll(async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
        ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'K', '--currency', 'KES'],
      ]) {
        const r = await run(...args)
        expect(r.code, r.stderr).toBe(0)
      }
      app = createApp(testRuntime({ env: s.env }).rt, {})
      const store = await app.store()
      for (const code of ['westlands', 'karen'])
        ids[code] = (await findBranchByCode(store.db, code))!.id
    })
    afterAll(async () => {
      await app?.close()
    })

    it('stores each token sealed and bound to its branch and gateway, with an HMAC for look-ups', async () => {
      const wMpesa = tokenOf(await urlOf('mpesa', 'westlands'))
      const wKcb = tokenOf(await urlOf('mpesa-kcb', 'westlands'))
      const kMpesa = tokenOf(await urlOf('mpesa', 'karen'))
      for (const t of [wMpesa, wKcb, kMpesa]) expect(t).toMatch(/^[0-9a-f]{32}$/)
      expect(new Set([wMpesa, wKcb, kMpesa]).size).toBe(3)
      // The same URL again: the token is opened, not remade.
      expect(tokenOf(await urlOf('mpesa', 'westlands'))).toBe(wMpesa)
      const rows = await settings()
      const dump = JSON.stringify(rows)
      for (const t of [wMpesa, wKcb, kMpesa]) expect(dump).not.toContain(t)
      const ring = loadKeyRing(s.home, {})
      const tokenRow = (b: string, t: string) =>
        rows.find((r) => r.key === `callback_token:${ids[b]}:${t}`)!
      const sealed = tokenRow('westlands', 'mpesa')
      expect(keyIdOf(sealed.value)).toBe(ring.primary.id)
      expect(decryptSecret(ring, sealed.value, `settings:${sealed.key}`)).toBe(wMpesa)
      // Bound to branch and gateway: the same envelope read as another branch's or type's fails.
      expect(() =>
        decryptSecret(ring, sealed.value, `settings:callback_token:${ids['karen']}:mpesa`),
      ).toThrow(/failed authentication/)
      expect(() =>
        decryptSecret(ring, sealed.value, `settings:callback_token:${ids['westlands']}:mpesa-kcb`),
      ).toThrow(/failed authentication/)
      // Hash rows hold HMACs (64 hex), never the token.
      const hashes = rows.filter((r) => r.key.startsWith('callback_token_hash:'))
      expect(hashes.map((r) => r.key).sort()).toEqual(
        [
          `callback_token_hash:${ids['karen']}:mpesa`,
          `callback_token_hash:${ids['westlands']}:mpesa`,
          `callback_token_hash:${ids['westlands']}:mpesa-kcb`,
        ].sort(),
      )
      for (const h of hashes) expect(h.value).toMatch(/^[0-9a-f]{64}$/)
      expect(rows.find((r) => r.key === 'callback_lookup_key')?.value).toMatch(/^v1\./)
    })

    it('the look-up finds the branch by the token and gateway type only', async () => {
      const store = await app.store()
      const wMpesa = tokenOf(await urlOf('mpesa', 'westlands'))
      const kMpesa = tokenOf(await urlOf('mpesa', 'karen'))
      expect(await branchForToken(app, store.db, 'mpesa', wMpesa)).toBe(ids['westlands'])
      expect(await branchForToken(app, store.db, 'mpesa', kMpesa)).toBe(ids['karen'])
      // A token of another gateway type, a near miss, and garbage find nothing.
      expect(await branchForToken(app, store.db, 'mpesa-kcb', wMpesa)).toBeUndefined()
      const nearMiss = `${wMpesa.slice(0, 31)}${wMpesa.endsWith('0') ? '1' : '0'}`
      expect(await branchForToken(app, store.db, 'mpesa', nearMiss)).toBeUndefined()
      expect(await branchForToken(app, store.db, 'mpesa', "' or 1=1 --")).toBeUndefined()
    })

    it('a plain token left by an older dsh still works and is sealed on first use', async () => {
      const store = await app.store()
      const legacy = 'ab'.repeat(16)
      const key = `callback_token:${ids['karen']}:bank`
      await putSetting(store.db, key, legacy, new Date().toISOString())
      expect(await branchForToken(app, store.db, 'bank', legacy)).toBe(ids['karen'])
      const rows = await settings()
      const row = rows.find((r) => r.key === key)!
      expect(row.value).not.toContain(legacy)
      expect(decryptSecret(loadKeyRing(s.home, {}), row.value, `settings:${key}`)).toBe(legacy)
      expect(await callbackToken(app, store.db, ids['karen']!, 'bank', false)).toBe(legacy)
    })

    it('dsh keys rotate re-encrypts every token and the look-up key; URLs and look-ups survive', async () => {
      const before = {
        w: await urlOf('mpesa', 'westlands'),
        k: await urlOf('mpesa', 'karen'),
        kcb: await urlOf('mpesa-kcb', 'westlands'),
      }
      const oldRing = loadKeyRing(s.home, {})
      const r = await run('keys', 'rotate', '--json')
      expect(r.code, r.stderr).toBe(0)
      const body = r.json<{ toKeyId: string; secretsReencrypted: number }>()
      // 4 tokens (3 + the bank one above), the look-up key and the audit key.
      expect(body.secretsReencrypted).toBe(6)
      const rows = await settings()
      const sealed = rows.filter(
        (x) => x.key.startsWith('callback_token:') || x.key === 'callback_lookup_key',
      )
      expect(sealed).toHaveLength(5)
      const newRing = loadKeyRing(s.home, {})
      expect(newRing.primary.id).toBe(body.toKeyId)
      for (const x of sealed) {
        expect(keyIdOf(x.value)).toBe(body.toKeyId)
        expect(decryptSecret(newRing, x.value, `settings:${x.key}`)).toBeTruthy()
        expect(() => decryptSecret(oldRing, x.value, `settings:${x.key}`)).toThrow(/master key/)
      }
      expect(await urlOf('mpesa', 'westlands')).toBe(before.w)
      expect(await urlOf('mpesa', 'karen')).toBe(before.k)
      expect(await urlOf('mpesa-kcb', 'westlands')).toBe(before.kcb)
      // A fresh process (no cached look-up key) still finds the branches.
      const fresh = createApp(testRuntime({ env: s.env }).rt, {})
      try {
        const db = (await fresh.store()).db
        expect(await branchForToken(fresh, db, 'mpesa', tokenOf(before.w))).toBe(ids['westlands'])
        expect(await branchForToken(fresh, db, 'mpesa-kcb', tokenOf(before.kcb))).toBe(
          ids['westlands'],
        )
      } finally {
        await fresh.close()
      }
    })

    it('--rotate makes a new token: the old one stops matching, the new one matches', async () => {
      const store = await app.store()
      const old = tokenOf(await urlOf('mpesa', 'karen'))
      const r = await run('gateway', 'callback-url', 'mpesa', '--branch', 'karen', '--rotate')
      expect(r.code, r.stderr).toBe(0)
      const fresh = tokenOf(await urlOf('mpesa', 'karen'))
      expect(fresh).not.toBe(old)
      expect(await branchForToken(app, store.db, 'mpesa', old)).toBeUndefined()
      expect(await branchForToken(app, store.db, 'mpesa', fresh)).toBe(ids['karen'])
      expect(JSON.stringify(await settings())).not.toContain(fresh)
    })
  })
})
