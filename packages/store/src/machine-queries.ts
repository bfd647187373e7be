/**
 * Machines in the account tables, written once for every engine (`account-queries.ts` binds them; the
 * engines' `machine-parents.ts` run `adoptChildMachine`): revoking one (its tokens and its children with
 * it), its name, unique among its user's live machines, its row at a daemon's hello, a rename, taking a
 * revoked machine back when it is paired again, and child machines (`machine_parents`).
 *
 * Every statement that names a machine (its first hello, a hello with a new name, a dashboard rename,
 * pairing a revoked machine again, a child machine's adoption) decides it in one transaction that first
 * locks the user's row (`userMachinesLocked`), so two of them for one user run one after the other.
 */
import { clampMachineName, numberedMachineName, type Sync } from "@overlord/protocol"
import { step } from "./ingest/steps.ts"
import { all, exists, inChunks, now, placeholders, type Query, type QueryDialect, run } from "./query-dialect.ts"
import type { Actor, RenameMachineOutcome, RevokedMachine } from "./store.ts"

/** A machine's tokens (`machine_uid` is the machine's uid). */
const MACHINE_TOKENS = "user_id = ? AND kind = 'machine' AND machine_uid = ?"

export function revokeMachine(db: QueryDialect, actor: Actor, machineUid: string): Query<boolean> {
  return step(
    db.transaction(function* (tx) {
      const at = now()
      const machines = yield* run(
        tx,
        "UPDATE machines SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND machine_uid = ?",
        [at, actor.userId, machineUid],
      )
      // Its children (sandboxes) synced with its token: they go with it. Read, then updated by id: MySQL
      // refuses a subquery on the table an UPDATE writes, and SQLite has no UPDATE … JOIN. The parent's
      // row, written above, stays locked until commit, so no child is adopted in between
      // (`adoptChildMachine` reads the parent with a lock).
      const children = yield* all<{ machine_id: number }>(
        tx,
        `SELECT p.machine_id FROM machine_parents p JOIN machines parent ON parent.id = p.parent_machine_id
         WHERE parent.user_id = ? AND parent.machine_uid = ?`,
        [actor.userId, machineUid],
      )
      for (const part of inChunks(children)) {
        yield* run(
          tx,
          `UPDATE machines SET revoked_at = coalesce(revoked_at, ?)
           WHERE user_id = ? AND id IN (${placeholders(part.length)})`,
          [at, actor.userId, ...part.map((c) => Number(c.machine_id))],
        )
      }
      const tokens = yield* run(tx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE ${MACHINE_TOKENS}`, [
        at,
        actor.userId,
        machineUid,
      ])
      if (machines + tokens > 0) return true
      // As in `revokeToken`: on MySQL a machine revoked before matches without changing.
      return (
        (yield* exists(tx, "SELECT 1 AS one FROM machines WHERE user_id = ? AND machine_uid = ?", [
          actor.userId,
          machineUid,
        ])) ||
        (yield* exists(tx, `SELECT 1 AS one FROM tokens WHERE ${MACHINE_TOKENS} LIMIT 1`, [actor.userId, machineUid]))
      )
    }),
  )
}

export function* revokedMachines(db: QueryDialect, actor: Actor): Query<RevokedMachine[]> {
  const rows = yield* all<{ machine_uid: string; name: string; last_seen_at: string | null }>(
    db,
    "SELECT machine_uid, name, last_seen_at FROM machines WHERE user_id = ? AND revoked_at IS NOT NULL ORDER BY name",
    [actor.userId],
  )
  return rows.map((r) => ({ machineId: r.machine_uid, name: r.name, lastSeenAt: r.last_seen_at }))
}

// ---- machine names (unique among a user's live machines) ------------------------------------------

/**
 * `name` if no other live machine of the user has it, else numbered (`numberedMachineName`, the CLI's
 * `-N` step; the CLI first tries `<host> (<OS user>)`, which only the laptop can take). The numbering
 * starts again from the base of a name it gave (`vm-2` → `vm-3`, not `vm-2-2`) when that base is taken
 * too: the server does not know the host name the CLI strips instead, only the names taken.
 */
export function uniqueMachineName(name: string, taken: ReadonlySet<string>): string {
  const wanted = clampMachineName(name)
  if (!taken.has(wanted)) return wanted
  const numbered = /^(.+)-\d+$/.exec(wanted)
  return numberedMachineName(numbered?.[1] !== undefined && taken.has(numbered[1]) ? numbered[1] : wanted, taken)
}

/**
 * The name a machine has after a hello that says `hello`: a name the daemon did not say before (a new
 * `--name`, a login, the CLI's own de-duplication) replaces the stored one; the name it said last time
 * leaves the stored one alone, so a rename in the dashboard or a clash the server told apart survives the
 * daemon's reconnects, which keep sending the name in its `machine.json`. Rows from before the server
 * kept `reported_name` (null) take the hello's name, as every hello did then. Either way unique.
 */
export function nameAtHello(
  stored: { readonly name: string; readonly reported_name: string | null },
  hello: string,
  taken: ReadonlySet<string>,
): string {
  const said = clampMachineName(hello)
  return uniqueMachineName(stored.reported_name !== null && stored.reported_name === said ? stored.name : said, taken)
}

interface NamedMachineRow {
  readonly id: number
  readonly machine_uid: string
  readonly name: string
  readonly reported_name: string | null
  readonly revoked_at: string | null
}

/**
 * Every machine of the user, read in a write transaction after locking the user's row: whatever names
 * a machine takes this lock first, so of two hellos (or a hello and a rename) of one user's machines the
 * second waits and then sees the first's name.
 *
 * `first`: this is the transaction's first statement. MySQL's REPEATABLE READ takes a transaction's
 * snapshot at its first plain read, which then comes after the lock, so a plain read sees every name
 * committed by whoever held it. Otherwise (a pairing, which reads its key first) the machines are read
 * with a lock, which reads the latest committed rows; that is not the default because locking every
 * machine row of the user made a hello wait on, and deadlock with, a `revokeMachine` holding a parent's row
 * and wanting its children's.
 */
function* userMachinesLocked(tx: QueryDialect, userId: number, first: boolean): Query<NamedMachineRow[]> {
  yield* all(tx, `SELECT id FROM users WHERE id = ?${tx.forUpdate}`, [userId])
  const rows = yield* all<NamedMachineRow>(
    tx,
    `SELECT id, machine_uid, name, reported_name, revoked_at FROM machines WHERE user_id = ?${first ? "" : tx.forUpdate}`,
    [userId],
  )
  return rows.map((r) => ({ ...r, id: Number(r.id) }))
}

/** The names of the user's live machines other than `machineUid` (a revoked machine's name is free). */
const namesTakenBesides = (rows: readonly NamedMachineRow[], machineUid: string): Set<string> =>
  new Set(rows.filter((r) => r.revoked_at === null && r.machine_uid !== machineUid).map((r) => r.name))

/**
 * The `SyncStore`'s `openMachine` less its cursors: registers the machine at its daemon's hello (or
 * names it as `nameAtHello` says and marks it online), in one transaction; its row id.
 */
export function openMachineRow(db: QueryDialect, actor: Actor, machineUid: string, name: string): Query<number> {
  return step(
    db.transaction(function* (tx) {
      const rows = yield* userMachinesLocked(tx, actor.userId, true)
      const taken = namesTakenBesides(rows, machineUid)
      const own = rows.find((r) => r.machine_uid === machineUid)
      const at = now()
      if (own) {
        yield* run(tx, "UPDATE machines SET name = ?, reported_name = ?, last_seen_at = ?, online = 1 WHERE id = ?", [
          nameAtHello(own, name, taken),
          clampMachineName(name),
          at,
          own.id,
        ])
        return own.id
      }
      yield* run(
        tx,
        `INSERT INTO machines (user_id, machine_uid, name, reported_name, created_at, last_seen_at, online)
         VALUES (?, ?, ?, ?, ?, ?, 1)`,
        [actor.userId, machineUid, uniqueMachineName(name, taken), clampMachineName(name), at, at],
      )
      const [row] = yield* all<{ id: number }>(tx, "SELECT id FROM machines WHERE user_id = ? AND machine_uid = ?", [
        actor.userId,
        machineUid,
      ])
      if (!row) throw new Error(`machine ${machineUid} could not be created`)
      return Number(row.id)
    }),
  )
}

/**
 * Renames one of the user's live machines (the dashboard): refused, not de-duplicated, when another of
 * the user's live machines has the name, since the user chose it. The daemon's `reported_name` stays, so
 * its next hello (still saying its old name) keeps this one (`nameAtHello`).
 */
export function* renameMachine(
  db: QueryDialect,
  actor: Actor,
  machineUid: string,
  name: string,
): Query<RenameMachineOutcome> {
  const wanted = name.trim()
  if (wanted === "" || clampMachineName(wanted) !== wanted) return { _tag: "Invalid" }
  return yield* step(
    db.transaction(function* (tx): Query<RenameMachineOutcome> {
      const rows = yield* userMachinesLocked(tx, actor.userId, true)
      const own = rows.find((r) => r.machine_uid === machineUid && r.revoked_at === null)
      if (!own) return { _tag: "NotFound" }
      if (namesTakenBesides(rows, machineUid).has(wanted)) return { _tag: "NameTaken", name: wanted }
      if (own.name !== wanted) yield* run(tx, "UPDATE machines SET name = ? WHERE id = ?", [wanted, own.id])
      return { _tag: "Renamed", machineId: machineUid, name: wanted }
    }),
  )
}

/**
 * Takes a revoked machine back into use (it is paired again), under another name if one of the user's
 * live machines took its name meanwhile. Nothing for a machine that is live, or not yet seen.
 */
export function relistMachine(db: QueryDialect, userId: number, machineUid: string): Query<void> {
  return step(
    db.transaction(function* (tx) {
      // Most pairings are of a new machine (no row yet) or a live one: nothing more is locked for them. A
      // locking read: the pairing has read before, and a plain read would see its snapshot's row.
      const [row] = yield* all<{ revoked_at: string | null }>(
        tx,
        `SELECT revoked_at FROM machines WHERE user_id = ? AND machine_uid = ?${tx.forUpdate}`,
        [userId, machineUid],
      )
      if (!row || row.revoked_at === null) return
      // Inside a pairing, which has read before: the machines are read with a lock.
      const rows = yield* userMachinesLocked(tx, userId, false)
      const own = rows.find((r) => r.machine_uid === machineUid)
      if (!own || own.revoked_at === null) return
      // Its children revoked with it (`revokeMachine` gives them its `revoked_at`) come back with it: its
      // daemon syncs them with its token, and without this a sandbox's machine stayed refused for good
      // after `overlord logout` and a new `overlord login`, daemon restarted or not. A child revoked on
      // its own before keeps its own time, and stays revoked. Compared in SQL, as stored, before the
      // parent's row is written.
      const children = yield* all<{ machine_uid: string }>(
        tx,
        `SELECT m.machine_uid FROM machine_parents p
         JOIN machines m ON m.id = p.machine_id
         JOIN machines parent ON parent.id = p.parent_machine_id
         WHERE parent.id = ? AND m.user_id = ? AND m.revoked_at = parent.revoked_at`,
        [own.id, userId],
      )
      const taken = namesTakenBesides(rows, machineUid)
      const back = new Set(children.map((c) => c.machine_uid))
      for (const row of [own, ...rows.filter((r) => back.has(r.machine_uid))]) {
        const name = uniqueMachineName(row.name, taken)
        taken.add(name)
        yield* run(tx, "UPDATE machines SET revoked_at = NULL, name = ? WHERE id = ?", [name, row.id])
      }
    }),
  )
}

// ---- child machines (`machine_parents`; the `Store`'s `adoptChildMachine`) -------------------------

interface ChildRow {
  readonly id: number
  readonly revoked_at: string | null
  readonly parent_machine_id: number | null
  readonly kind: string | null
}

/**
 * Registers `childUid` as a machine `parentUid` runs for the same user (see `SyncStore`), in one
 * transaction. The parent's row is read with a lock (a `revokeMachine` of it waits, or is waited for and
 * then seen), the child's too; the child's machine and parent rows are inserted ignoring a taken key, so
 * two hellos of the same child racing both find the one row, and only the parent it names accepts it.
 */
export function* adoptChildMachine(
  db: QueryDialect,
  actor: Actor,
  parentUid: string,
  childUid: string,
  name: string,
  kind: Sync.MachineParent["kind"],
): Query<boolean> {
  if (parentUid === childUid) return false
  return yield* step(
    db.transaction(function* (tx) {
      const machines = yield* userMachinesLocked(tx, actor.userId, true)
      const [parent] = yield* all<{ id: number }>(
        tx,
        `SELECT id FROM machines WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL${tx.forUpdate}`,
        [actor.userId, parentUid],
      )
      if (!parent) return false
      const parentId = Number(parent.id)
      const childRow = () =>
        all<ChildRow>(
          tx,
          `SELECT m.id, m.revoked_at, p.parent_machine_id, p.kind FROM machines m
           LEFT JOIN machine_parents p ON p.machine_id = m.id WHERE m.user_id = ? AND m.machine_uid = ?${tx.forUpdate}`,
          [actor.userId, childUid],
        )
      let [child] = yield* childRow()
      if (!child) {
        yield* step(
          tx.insertRows(
            "machines",
            ["user_id", "machine_uid", "name", "reported_name", "created_at"],
            [
              [
                actor.userId,
                childUid,
                uniqueMachineName(name, namesTakenBesides(machines, childUid)),
                clampMachineName(name),
                now(),
              ],
            ],
            true,
          ),
        )
        const [machine] = yield* all<{ id: number }>(
          tx,
          "SELECT id FROM machines WHERE user_id = ? AND machine_uid = ?",
          [actor.userId, childUid],
        )
        if (!machine) throw new Error(`machine ${childUid} could not be created`)
        yield* step(
          tx.insertRows(
            "machine_parents",
            ["machine_id", "user_id", "parent_machine_id", "kind"],
            [[Number(machine.id), actor.userId, parentId, kind]],
            true,
          ),
        )
        ;[child] = yield* childRow()
      }
      return (
        child !== undefined &&
        child.revoked_at === null &&
        Number(child.parent_machine_id) === parentId &&
        child.kind === kind
      )
    }),
  )
}
