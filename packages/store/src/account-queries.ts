/**
 * The `AccountStore` (and the `Store`'s `adoptChildMachine`, `machine-queries.ts`) written once for every
 * engine: the statements live beside the rows they read and the rules that need no database —
 * `user-queries.ts` (users, profiles, setup and invite links), `token-queries.ts` (tokens and pairing
 * keys), `machine-queries.ts` (revocation, unique names, a machine's row at hello, renames, child
 * machines), `device-code-queries.ts` (the device-code pairing) and `share-queries.ts` (session shares) —
 * as queries an engine runs through its `QueryDialect` (`query-dialect.ts`); this file binds them into the
 * class the engines extend (`sqlite/accounts.ts`, `mysql/accounts.ts`).
 *
 * Security rules held there for every engine:
 * - every secret (token, pairing key, link, device code, user code) is stored as its SHA-256 only
 *   (`tokens.ts`); a row found by a hash is compared with it again in constant time (`tokensEqual`);
 * - a one-time secret works once: a token or a single-use pairing key is spent by one conditional UPDATE
 *   (`used_at IS NULL`: of two concurrent uses one changes the row); a link and a device code are read
 *   and spent in one transaction whose read locks the row (`forUpdate` on MySQL; SQLite's IMMEDIATE
 *   transaction holds the database's one write lock), so a second use waits, then finds it used;
 * - whatever a user owns is read and written through `actor.userId`;
 * - a machine's name is unique among its user's live (unrevoked) machines: every statement that names a
 *   machine decides it in one transaction that first locks the user's row (`userMachinesLocked`).
 *
 * No statement needs the id of the row it inserts (MySQL gives `insertId`, SQLite `RETURNING`): each row
 * is found again by its unique key (a token by its hash, a user by name, a machine by user and uid).
 */
import { createDeviceCode, decideDeviceRequest, getDeviceRequest, pollDeviceCode } from "./device-code-queries.ts"
import { openMachineRow, renameMachine, revokedMachines, revokeMachine } from "./machine-queries.ts"
import type { Mode, QueryDialect, Runner } from "./query-dialect.ts"
import { listSharedWithMe, listShares, sharedSessionOwner, shareSession, unshareSession } from "./share-queries.ts"
import type { AccountLinkKind, Actor, CreateAccountLink, DeviceCodeInput, IssueToken, TokenKind } from "./store.ts"
import { consumeToken, issueToken, listTokens, redeemPairingKey, revokeToken, verifyToken } from "./token-queries.ts"
import {
  acceptAccountLink,
  accountLinkStatus,
  createAccountLink,
  ensureUser,
  findUserByEmail,
  hasAdmin,
  userWhere,
} from "./user-queries.ts"

/**
 * The `AccountStore` on an engine: each method runs its query on the engine's dialect with the engine's
 * runner (`runSync`: it answers values; `runAsync`: promises). `sqlite/accounts.ts` and
 * `mysql/accounts.ts` extend it.
 */
export function accountStoreOn<M extends Mode>(runQuery: Runner<M>) {
  return class AccountQueries {
    constructor(protected readonly db: QueryDialect) {}
    ensureUser(name: string) {
      return runQuery(ensureUser(this.db, name))
    }
    issueToken(input: IssueToken) {
      return runQuery(issueToken(this.db, input))
    }
    verifyToken(plaintext: string, kinds: readonly TokenKind[]) {
      return runQuery(verifyToken(this.db, plaintext, kinds))
    }
    consumeToken(plaintext: string, kind: TokenKind) {
      return runQuery(consumeToken(this.db, plaintext, kind))
    }
    getUser(userId: number) {
      return runQuery(userWhere(this.db, "u.id", userId))
    }
    findUserByEmail(email: string) {
      return runQuery(findUserByEmail(this.db, email))
    }
    hasAdmin() {
      return runQuery(hasAdmin(this.db))
    }
    createAccountLink(input: CreateAccountLink) {
      return runQuery(createAccountLink(this.db, input))
    }
    accountLinkStatus(token: string) {
      return runQuery(accountLinkStatus(this.db, token))
    }
    acceptAccountLink(token: string, kind: AccountLinkKind, email: string, name: string) {
      return runQuery(acceptAccountLink(this.db, token, kind, email, name))
    }
    listTokens(actor: Actor) {
      return runQuery(listTokens(this.db, actor))
    }
    revokeToken(actor: Actor, tokenId: number) {
      return runQuery(revokeToken(this.db, actor, tokenId))
    }
    revokeMachine(actor: Actor, machineUid: string) {
      return runQuery(revokeMachine(this.db, actor, machineUid))
    }
    revokedMachines(actor: Actor) {
      return runQuery(revokedMachines(this.db, actor))
    }
    renameMachine(actor: Actor, machineUid: string, name: string) {
      return runQuery(renameMachine(this.db, actor, machineUid, name))
    }
    /** The machine row of `SyncStore.openMachine` (its engine adds the cursors). */
    openMachineRow(actor: Actor, machineUid: string, name: string) {
      return runQuery(openMachineRow(this.db, actor, machineUid, name))
    }
    redeemPairingKey(key: string, machineUid: string) {
      return runQuery(redeemPairingKey(this.db, key, machineUid))
    }
    createDeviceCode(input: DeviceCodeInput) {
      return runQuery(createDeviceCode(this.db, input))
    }
    getDeviceRequest(userCode: string) {
      return runQuery(getDeviceRequest(this.db, userCode))
    }
    decideDeviceRequest(actor: Actor, userCode: string, approve: boolean) {
      return runQuery(decideDeviceRequest(this.db, actor, userCode, approve))
    }
    pollDeviceCode(deviceCode: string, minIntervalMs: number) {
      return runQuery(pollDeviceCode(this.db, deviceCode, minIntervalMs))
    }
    shareSession(actor: Actor, sessionId: string, granteeEmail: string) {
      return runQuery(shareSession(this.db, actor, sessionId, granteeEmail))
    }
    unshareSession(actor: Actor, sessionId: string, granteeUserId: number) {
      return runQuery(unshareSession(this.db, actor, sessionId, granteeUserId))
    }
    listShares(actor: Actor, sessionId: string) {
      return runQuery(listShares(this.db, actor, sessionId))
    }
    sharedSessionOwner(actor: Actor, sessionId: string) {
      return runQuery(sharedSessionOwner(this.db, actor, sessionId))
    }
    listSharedWithMe(actor: Actor) {
      return runQuery(listSharedWithMe(this.db, actor))
    }
  }
}
