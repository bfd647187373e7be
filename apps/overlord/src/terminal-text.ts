/**
 * Session text the CLI prints on a terminal (`overlord sessions`, `overlord search`). A title is a first
 * prompt as typed or pasted, a cwd and a snippet are whatever the session file holds: pasted terminal
 * output carries its colour codes, and any escape sequence printed raw is the terminal's to obey.
 * walkthrough-7 printed a session whose prompt held `ESC[2J` (clear the screen) and whose cwd held
 * `ESC]0;…BEL` (set the window's title): `overlord sessions` and `overlord search` did both. Control
 * characters are shown as their Unicode control pictures (ESC as ␛, NUL as ␀), C1 controls (an 8-bit
 * CSI) as U+FFFD, so the text stays readable and nothing in it is executed.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

const picture = (c: string): string => {
  const code = c.charCodeAt(0)
  if (code < 0x20) return String.fromCharCode(0x2400 + code)
  if (code === 0x7f) return "\u2421"
  return "\ufffd"
}

/** `text` with every control character made visible instead of acted on. */
export const terminalSafe = (text: string): string => text.replace(CONTROL, picture)

/** A session's title is its first prompt, as typed or pasted: a pasted terminal screen ran to 40 lines and
 * broke `overlord sessions` into rows of its own. One line, cut at `max` characters, controls shown. */
export const oneLineTitle = (title: string, max = 80): string => {
  const chars = [...terminalSafe(title.replace(/\s+/g, " ").trim())] // code points: an emoji is never cut in half
  return chars.length > max
    ? `${chars
        .slice(0, max - 1)
        .join("")
        .trimEnd()}…`
    : chars.join("")
}
