import type { GlobalOptions, Runtime } from './runtime.js'

/** What a command waits for, shown on a terminal's stderr; nothing in pipes or with --json. */
export interface Progress {
  /** Shows `label (N s)` from about half a second on, counting from now; replaces any earlier. */
  set(label: string): void
  /** Clears the line for a moment (a message is being written), then shows it again. */
  around(write: () => void): void
  /** Stops and clears the line. */
  done(): void
}

const CLEAR = '\r\u001b[2K'
const SHOW_AFTER_MS = 500

export function createProgress(
  rt: Runtime,
  globals: GlobalOptions,
  now: () => number = Date.now,
): Progress {
  const active = rt.stderrIsTTY && globals.json !== true
  let label: string | undefined
  let since = 0
  let timer: NodeJS.Timeout | undefined
  let shown = false
  const render = () => {
    if (!label || now() - since < SHOW_AFTER_MS) return
    rt.stderr.write(`${CLEAR}${label} (${Math.floor((now() - since) / 1000)} s)`)
    shown = true
  }
  const clear = () => {
    if (shown) rt.stderr.write(CLEAR)
    shown = false
  }
  return {
    set(text) {
      if (!active) return
      label = text
      since = now()
      if (!timer) {
        timer = setInterval(render, 250)
        timer.unref()
      }
    },
    around(write) {
      const was = shown
      clear()
      write()
      if (was) render()
    },
    done() {
      if (timer) clearInterval(timer)
      timer = undefined
      label = undefined
      clear()
    },
  }
}
