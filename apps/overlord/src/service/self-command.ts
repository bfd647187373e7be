/**
 * How to run this very program again (a detached daemon, a service's ExecStart): the single
 * executable alone, or the Bun that runs this script plus the script.
 */
import { resolve } from "node:path"

/**
 * Inside an executable built with `bun build --compile` (scripts/build-binary.ts), the entry point's
 * path is virtual, under `/$bunfs/` (`B:\~BUN\` on Windows), and the executable takes its arguments
 * directly: passing that path back to it would be read as a command.
 */
export const isCompiled = (script = process.argv[1] ?? "") =>
  script.startsWith("/$bunfs/") || script.startsWith("B:\\~BUN\\") || script.startsWith("B:/~BUN/")

/** Absolute argv prefix that starts this program: `[executable]` or `[bun, script]`. */
export const selfCommand = (execPath = process.execPath, script = process.argv[1] ?? ""): readonly string[] =>
  isCompiled(script) ? [resolve(execPath)] : [resolve(execPath), resolve(script)]
