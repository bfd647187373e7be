/**
 * Found in walkthrough 3: a session that cost $0.0002 read "$0.000" in the session list and the usage
 * chart, beside "$0.00" for sessions that cost nothing: two spellings of zero, one of them wrong.
 */
import { describe, expect, it } from "vitest"
import { formatCost } from "../../src/format.ts"

describe("formatCost", () => {
  it("never writes a spent amount as zero", () => {
    expect(formatCost(0)).toBe("$0.00")
    expect(formatCost(0.0002)).toBe("<$0.001")
    expect(formatCost(0.0004999)).toBe("<$0.001")
    expect(formatCost(0.0005)).toBe("$0.001")
    expect(formatCost(0.315)).toBe("$0.315")
    expect(formatCost(3.0225)).toBe("$3.02")
    expect(formatCost(123.4)).toBe("$123")
  })
})
