/** Option values shared by more than one command (`start`, `service install`). */
import { InvalidArgumentError } from "commander"

/** The embedded server's port when none is given. */
export const DEFAULT_PORT = 7420

export const parsePort = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("a port number, 0-65535")
  return n
}
