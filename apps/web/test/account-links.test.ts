/** The address parsing behind the pages a terminal or an invite opens: `/setup/<token>`, `/invite/<token>`, `/device?code=`. */
import { describe, expect, it } from "vitest"
import { linkPage, normalizeUserCode } from "../src/accounts-api.ts"
import { accountTabOf } from "../src/components/AccountPages.tsx"
import { parseRoute } from "../src/router.ts"

describe("linkPage", () => {
  it("reads the token of a setup or invite link", () => {
    expect(linkPage("/setup/ovs_abc-DEF_1")).toEqual({ kind: "setup", token: "ovs_abc-DEF_1" })
    expect(linkPage("/invite/ovi_xyz/")).toEqual({ kind: "invite", token: "ovi_xyz" })
    expect(linkPage("/invite/a%20b")).toEqual({ kind: "invite", token: "a b" })
  })

  it("is not a link page for other paths, extra segments or a malformed escape", () => {
    for (const path of ["/", "/setup", "/setup/", "/invite/a/b", "/device", "/setupx/a", "/invite/%E0%A4%A"]) {
      expect(linkPage(path), path).toBeNull()
    }
  })
})

describe("normalizeUserCode", () => {
  it("accepts the code as people retype it", () => {
    expect(normalizeUserCode("wdjb-mjht")).toBe("WDJB-MJHT")
    expect(normalizeUserCode(" WDJB MJHT ")).toBe("WDJB-MJHT")
    expect(normalizeUserCode("WDJBMJHT")).toBe("WDJB-MJHT")
  })

  it("leaves a code of another length as typed (upper-cased), for the server to refuse", () => {
    expect(normalizeUserCode("abc")).toBe("ABC")
  })
})

describe("account routes", () => {
  it("parse #/account[/tab], and an unknown tab falls back to machines", () => {
    expect(parseRoute("#/account")).toEqual({ name: "account", tab: undefined })
    expect(parseRoute("#/account/pairing-keys")).toEqual({ name: "account", tab: "pairing-keys" })
    expect(parseRoute("#/account/a/b").name).toBe("notFound")
    expect(accountTabOf("pairing-keys")).toBe("pairing-keys")
    expect(accountTabOf("nope")).toBe("machines")
    expect(accountTabOf(undefined)).toBe("machines")
  })
})
