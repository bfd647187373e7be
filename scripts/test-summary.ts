/**
 * Prints one closing line, `N passed, N failed, N skipped`, over vitest JSON reports, so any CI can
 * read the outcome. Fails when a report is missing or when no test ran at all.
 *
 * Failed tests are listed after that line, each with its file and the start of its failure: a CI
 * that keeps only the tail of the log (ours shows about its last 100 lines) still says which test
 * failed and why, where the reporter's own account of it has scrolled away.
 */
import { existsSync, readFileSync } from "node:fs"
import { relative } from "node:path"

interface Assertion {
  status: string
  fullName: string
  failureMessages?: string[]
}

interface Report {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
  testResults?: { name: string; status?: string; message?: string; assertionResults?: Assertion[] }[]
}

let passed = 0
let failed = 0
let skipped = 0
const failures: string[] = []
// ANSI colour codes make a failure message unreadable in a plain log.
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "")
const firstLines = (s: string, n: number) =>
  stripAnsi(s)
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(0, n)
    .map((l) => `      ${l.slice(0, 300)}`)
    .join("\n")

for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.error(`test-summary: ${file} is missing (the runner crashed before reporting)`)
    failed += 1
    continue
  }
  const r = JSON.parse(readFileSync(file, "utf8")) as Report
  passed += r.numPassedTests
  failed += r.numFailedTests
  skipped += r.numPendingTests + r.numTodoTests
  for (const t of r.testResults ?? []) {
    const where = relative(process.cwd(), t.name)
    const failedHere = (t.assertionResults ?? []).filter((a) => a.status === "failed")
    for (const a of failedHere) {
      failures.push(`  ✗ ${where} > ${a.fullName}\n${firstLines((a.failureMessages ?? []).join("\n"), 8)}`)
    }
    // A file that failed outside any test (an import error, a failing beforeAll) has no failed
    // assertion to name, only its own message; it counts as one failure so the line says so.
    if (failedHere.length === 0 && t.status === "failed") {
      failed += 1
      failures.push(`  ✗ ${where} (the file itself)\n${firstLines(t.message ?? "", 8)}`)
    }
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
if (failures.length > 0) console.log(`failed:\n${failures.join("\n")}`)
if (failed > 0 || passed === 0) process.exit(1)
