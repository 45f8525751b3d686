// Types for the parts of bin/test-tools.mjs the tests import (the script itself stays plain JS so
// `npm test` can run it before anything is built).
export function chromiumPath(env?: NodeJS.ProcessEnv): string | undefined
export function onPath(command: string, path?: string): string | undefined
