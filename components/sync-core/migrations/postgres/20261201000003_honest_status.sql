-- An honest status page: who ran a source's last tick, how long a host may go unseen before
-- it counts as gone, and dead letters an operator has judged and discarded.

-- The host (or Spin tick) that ran the source's last live tick.
ALTER TABLE source_state ADD COLUMN last_tick_by TEXT;
-- The longest a running host goes between heartbeats (microseconds): seen longer ago, it is gone.
-- `process` (MACHINE:PID) tells a restart on the same machine that a killed namesake is dead.
ALTER TABLE hosts ADD COLUMN process TEXT;
ALTER TABLE hosts ADD COLUMN heartbeat_micros BIGINT;
-- Settled by an operator (`dialogsync dead-letters discard`): kept, counted, no longer open.
ALTER TABLE dead_letters ADD COLUMN discarded_at TEXT;
ALTER TABLE dead_letters ADD COLUMN discard_reason TEXT;
-- The mode the projector made a dialog in (live, historic): replay projects it in the same.
ALTER TABLE dialogs ADD COLUMN sync_mode TEXT;
