import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // One worker per core, not vitest's default of one fewer (a single worker on a 2-core CI
    // machine): the tests mostly wait on bin/dsh processes, daemons and PostgreSQL. Measured on 2
    // cores: 590 s with one worker, 339 s with two.
    maxWorkers: '100%',
    execArgv: ['--import', 'tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
