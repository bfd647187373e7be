/**
 * Why the daemon could not start, in one sentence that says what to do (its port in use, no pairing
 * for `--server`): `overlord start --foreground` prints it without a stack, and a detached `overlord
 * start` shows it as its reason (before, both left only a stack trace in daemon.out).
 */
import { Data } from "effect"

export class DaemonStartError extends Data.TaggedError("DaemonStartError")<{
  readonly message: string
}> {}
