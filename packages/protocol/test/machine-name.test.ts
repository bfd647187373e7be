import { clampMachineName, numberedMachineName } from "@overlord/protocol"
import { describe, expect, it } from "vitest"

describe("machine names", () => {
  it("numbers a clash from -2, skipping the numbers taken; names compare exactly", () => {
    expect(numberedMachineName("vm", new Set(["vm"]))).toBe("vm-2")
    expect(numberedMachineName("vm", new Set(["vm", "vm-2", "vm-3"]))).toBe("vm-4")
    expect(numberedMachineName("vm", new Set(["VM-2"]))).toBe("vm-2")
  })

  it("keeps a numbered name within 255 code points, never cutting a surrogate pair", () => {
    const long = "🖥".repeat(300)
    expect(Array.from(clampMachineName(long))).toHaveLength(255)
    expect(clampMachineName(long)).toBe("🖥".repeat(255))
    const numbered = numberedMachineName(long, new Set())
    expect(numbered).toBe(`${"🖥".repeat(253)}-2`)
    expect(Array.from(numbered)).toHaveLength(255)
    expect(clampMachineName("laptop")).toBe("laptop")
  })
})
