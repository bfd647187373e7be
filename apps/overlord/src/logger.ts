/**
 * The daemon's log: a file under the home, rotated by size (`overlord.log`, `.1`, `.2`), and the
 * console when running in the foreground.
 */
import { appendFileSync, existsSync, mkdirSync, renameSync, statSync } from "node:fs"
import { dirname } from "node:path"

export interface Logger {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

export interface FileLoggerOptions {
  readonly path: string
  readonly maxBytes?: number
  readonly keep?: number
  readonly console?: boolean
}

export function fileLogger(options: FileLoggerOptions): Logger {
  const maxBytes = options.maxBytes ?? 5 * 1024 * 1024
  const keep = options.keep ?? 3
  mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 })
  let size = existsSync(options.path) ? statSync(options.path).size : 0
  const rotate = () => {
    for (let i = keep - 1; i >= 1; i--) {
      const from = i === 1 ? options.path : `${options.path}.${i - 1}`
      if (existsSync(from)) renameSync(from, `${options.path}.${i}`)
    }
    size = 0
  }
  const write = (level: string, message: string) => {
    const line = `${new Date().toISOString()} ${level} ${message}\n`
    if (size + line.length > maxBytes) rotate()
    try {
      appendFileSync(options.path, line, { mode: 0o600 })
      size += line.length
    } catch {
      // A full disk must not stop syncing.
    }
    if (options.console) (level === "INFO" ? console.log : console.error)(`overlord: ${message}`)
  }
  return {
    info: (m) => write("INFO", m),
    warn: (m) => write("WARN", m),
    error: (m) => write("ERROR", m),
  }
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} }

/** `log` with `prefix` before every message: whose line it is, where several syncs share one log. */
export const prefixedLogger = (log: Logger, prefix: string): Logger => ({
  info: (m) => log.info(`${prefix}${m}`),
  warn: (m) => log.warn(`${prefix}${m}`),
  error: (m) => log.error(`${prefix}${m}`),
})
