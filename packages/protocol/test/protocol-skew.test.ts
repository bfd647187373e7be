import { describe, expect, it } from "vitest"
import { PROTOCOL_MINOR, PROTOCOL_VERSION, protocolLevelOf, protocolSkew } from "../src/sync.ts"

const at = (major: number, minor: number, app: string) => ({ major, minor, app })

describe("the compatibility policy (protocolSkew)", () => {
  it("lets a daemon and a server of one major sync within one minor of each other", () => {
    for (const d of [0, 1, 2, 3]) {
      for (const s of [0, 1, 2, 3]) {
        const skew = protocolSkew(at(1, d, "d"), at(1, s, "s"))
        if (Math.abs(d - s) <= 1) expect(skew, `${d} vs ${s}`).toBeNull()
        else expect(skew?.upgrade, `${d} vs ${s}`).toBe(d < s ? "daemon" : "server")
      }
    }
  })

  it("refuses another major whatever the minors, naming the older side and the newer side's release", () => {
    expect(protocolSkew(at(1, 9, "0.9.0"), at(2, 0, "2.0.0"))).toEqual({
      upgrade: "daemon",
      message:
        "the daemon (overlord 0.9.0) speaks sync protocol 1.9 and the server (overlord 2.0.0) 2.0; they sync only " +
        "within one minor version of the same major: upgrade the daemon to overlord 2.0.0 or later",
    })
    expect(protocolSkew(at(2, 0, "2.0.0"), at(1, 0, "1.0.0"))?.upgrade).toBe("server")
  })

  it("reads a hello or welcome without protocolMinor as minor 0 (released before it was sent)", () => {
    expect(protocolLevelOf({ protocolVersion: 1 })).toEqual({ major: 1, minor: 0 })
    expect(protocolLevelOf({ protocolVersion: PROTOCOL_VERSION, protocolMinor: PROTOCOL_MINOR })).toEqual({
      major: PROTOCOL_VERSION,
      minor: PROTOCOL_MINOR,
    })
    // Today's daemon and server sync with those.
    expect(protocolSkew(at(1, 0, "old"), at(PROTOCOL_VERSION, PROTOCOL_MINOR, "now"))).toBeNull()
  })
})
