-- What rooms need to be deleted, handed over and renumbered safely after a
-- crash: reserved sequence numbers and the order in which members joined.
-- The PostgreSQL twin of migrations/sqlite/0004_room_lifecycle.sql, less
-- SQLite's `room_id_high_water` table and trigger: `rooms.id` is an identity
-- column, whose sequence never hands out an id again, even after the
-- newest room is deleted (a refused INSERT may skip one; ids need not be
-- dense).

-- Every message seq the server may have handed out is <= seq_reserved (or
-- <= the room's highest stored seq). The server reserves numbers before it
-- hands them out, so after a crash it resumes above both and a
-- (room_id, seq) never names two messages; numbers may be skipped. A clean
-- shutdown lowers it to the last number used.
ALTER TABLE rooms ADD COLUMN seq_reserved BIGINT NOT NULL DEFAULT 0
    CONSTRAINT rooms_seq_reserved_check CHECK (seq_reserved >= 0);

-- The order members joined in, per room: larger joined later. The server
-- hands a room over to the operator, else the member, who joined first.
-- `joined_at_ms` cannot order them: two joins can share a millisecond and
-- the wall clock can step back. A new member gets the room's highest
-- number + 1, computed while the store holds the room's row locked, so two
-- concurrent joins of one room cannot take the same number; a role change
-- keeps the number. (Existing members, which only a database written
-- before this migration has, are numbered by join time: PostgreSQL has no
-- insertion order to go by.)
ALTER TABLE room_members ADD COLUMN joined_seq BIGINT NOT NULL DEFAULT 0;
UPDATE room_members SET joined_seq = ordered.n
FROM (
    SELECT room_id, account_id,
           ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY joined_at_ms, account_id) AS n
    FROM room_members
) AS ordered
WHERE room_members.room_id = ordered.room_id
  AND room_members.account_id = ordered.account_id;
-- Answers the MAX(joined_seq) of a join from the index, and keeps two
-- members from sharing a place.
CREATE UNIQUE INDEX room_members_joined_seq_key ON room_members (room_id, joined_seq);
