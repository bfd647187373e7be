/**
 * ANSI SGR escape sequences to styled text segments. Only SGR (`ESC[...m`) changes style; every
 * other control sequence (cursor moves, line clears, OSC titles/links) is dropped so terminal
 * output reads cleanly as text.
 */

export type AnsiStyle = {
  readonly fg?: string
  readonly bg?: string
  readonly bold?: true
  readonly dim?: true
  readonly italic?: true
  readonly underline?: true
  readonly inverse?: true
  readonly strike?: true
}

export type AnsiSegment = { readonly text: string; readonly style: AnsiStyle }

const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"] as const

/** Basic colours stay symbolic (`ansi-red`, `ansi-bright-red`) so the theme can pick readable shades. */
const basic = (index: number, bright: boolean): string => `ansi-${bright ? "bright-" : ""}${NAMES[index] ?? "white"}`

const CUBE = [0, 95, 135, 175, 215, 255]
const hex = (n: number): string => n.toString(16).padStart(2, "0")

export const xterm256 = (n: number): string => {
  if (n < 8) return basic(n, false)
  if (n < 16) return basic(n - 8, true)
  if (n < 232) {
    const i = n - 16
    return `#${hex(CUBE[Math.floor(i / 36)] ?? 0)}${hex(CUBE[Math.floor(i / 6) % 6] ?? 0)}${hex(CUBE[i % 6] ?? 0)}`
  }
  const level = 8 + (n - 232) * 10
  return `#${hex(level)}${hex(level)}${hex(level)}`
}

type MutableStyle = { -readonly [K in keyof AnsiStyle]: AnsiStyle[K] }

const applySgr = (style: MutableStyle, params: number[]): void => {
  if (params.length === 0) params = [0]
  for (let i = 0; i < params.length; i++) {
    const p = params[i] ?? 0
    if (p === 0) for (const key of Object.keys(style) as (keyof MutableStyle)[]) delete style[key]
    else if (p === 1) style.bold = true
    else if (p === 2) style.dim = true
    else if (p === 3) style.italic = true
    else if (p === 4) style.underline = true
    else if (p === 7) style.inverse = true
    else if (p === 9) style.strike = true
    else if (p === 22) {
      delete style.bold
      delete style.dim
    } else if (p === 23) delete style.italic
    else if (p === 24) delete style.underline
    else if (p === 27) delete style.inverse
    else if (p === 29) delete style.strike
    else if (p >= 30 && p <= 37) style.fg = basic(p - 30, false)
    else if (p === 39) delete style.fg
    else if (p >= 40 && p <= 47) style.bg = basic(p - 40, false)
    else if (p === 49) delete style.bg
    else if (p >= 90 && p <= 97) style.fg = basic(p - 90, true)
    else if (p >= 100 && p <= 107) style.bg = basic(p - 100, true)
    else if (p === 38 || p === 48) {
      const mode = params[i + 1]
      let colour: string | null = null
      if (mode === 5 && params[i + 2] !== undefined) {
        colour = xterm256(params[i + 2] ?? 0)
        i += 2
      } else if (mode === 2 && params.length >= i + 5) {
        colour = `#${hex(params[i + 2] ?? 0)}${hex(params[i + 3] ?? 0)}${hex(params[i + 4] ?? 0)}`
        i += 4
      }
      if (colour) {
        if (p === 38) style.fg = colour
        else style.bg = colour
      }
    }
  }
}

// CSI sequences (incl. SGR), OSC sequences (terminated by BEL or ST), and lone two-byte escapes.
const ESCAPES = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][\s\S]*?(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g

export const parseAnsi = (input: string): AnsiSegment[] => {
  const segments: AnsiSegment[] = []
  const style: MutableStyle = {}
  let last = 0
  const push = (text: string) => {
    if (!text) return
    const prev = segments[segments.length - 1]
    const snapshot = { ...style }
    if (prev && sameStyle(prev.style, snapshot))
      segments[segments.length - 1] = { text: prev.text + text, style: prev.style }
    else segments.push({ text, style: snapshot })
  }
  for (const match of input.matchAll(ESCAPES)) {
    push(input.slice(last, match.index))
    last = match.index + match[0].length
    if (match[2] === "m") {
      const params = (match[1] ?? "").split(/[;:]/).map((s) => (s === "" ? 0 : Number.parseInt(s, 10)))
      applySgr(style, params)
    }
  }
  push(input.slice(last))
  return segments
}

const sameStyle = (a: AnsiStyle, b: AnsiStyle): boolean => {
  const ka = Object.keys(a) as (keyof AnsiStyle)[]
  const kb = Object.keys(b)
  return ka.length === kb.length && ka.every((k) => a[k] === b[k])
}

export const stripAnsi = (input: string): string => input.replace(ESCAPES, "")

export const hasAnsi = (input: string): boolean => input.includes("\x1b")
