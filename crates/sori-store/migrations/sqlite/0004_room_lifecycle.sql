-- What rooms need to be deleted, handed over and renumbered safely after a
-- crash: reserved sequence numbers, room ids that are never reused, and the
-- order in which members joined.
--
-- Written to carry over to PostgreSQL as is, except where marked SQLITE.

-- Every message seq the server may have handed out is <= seq_reserved (or
-- <= the room's highest stored seq). The server reserves numbers before it
-- hands them out, so after a crash it resumes above both and a
-- (room_id, seq) never names two messages; numbers may be skipped. A clean
-- shutdown lowers it to the last number used.
ALTER TABLE rooms ADD COLUMN seq_reserved INTEGER NOT NULL DEFAULT 0
    CONSTRAINT rooms_seq_reserved_check CHECK (seq_reserved >= 0);

-- SQLITE: `rooms.id` is a plain rowid alias, which hands out MAX(id) + 1, so
-- deleting the newest room would give its id to the next one, and a late
-- write for the old room (or a client's stale id) would land in the new
-- one. AUTOINCREMENT cannot be added to an existing table, and rebuilding
-- `rooms` with foreign keys on would cascade the drop into every child
-- table, so the highest id ever used is kept here instead: the store
-- inserts rooms with id = last_id + 1, and the trigger below both advances
-- it and refuses any insert (by the store or by hand) that would reuse an
-- id. PostgreSQL needs none of this: an identity column never reuses ids.
CREATE TABLE room_id_high_water (
    only_row INTEGER NOT NULL DEFAULT 1,
    last_id  INTEGER NOT NULL,
    CONSTRAINT room_id_high_water_pkey PRIMARY KEY (only_row),
    CONSTRAINT room_id_high_water_only_row_check CHECK (only_row = 1)
);
INSERT INTO room_id_high_water (only_row, last_id)
SELECT 1, COALESCE(MAX(id), 0) FROM rooms;

-- SQLITE trigger syntax.
CREATE TRIGGER rooms_id_never_reused AFTER INSERT ON rooms
BEGIN
    SELECT RAISE(ABORT, 'room id reused')
    WHERE NEW.id <= (SELECT last_id FROM room_id_high_water);
    UPDATE room_id_high_water SET last_id = NEW.id;
END;

-- The order members joined in, per room: larger joined later. The server
-- hands a room over to the operator, else the member, who joined first.
-- `joined_at_ms` cannot order them: two joins can share a millisecond and
-- the wall clock can step back. A new member gets the room's highest
-- number + 1; a role change keeps the number. Existing members are numbered
-- 1, 2, ... per room in insertion (rowid) order.
ALTER TABLE room_members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
UPDATE room_members SET joined_seq = ordered.n
FROM (
    SELECT room_id, account_id,
           ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY rowid) AS n -- SQLITE: rowid
    FROM room_members
) AS ordered
WHERE room_members.room_id = ordered.room_id
  AND room_members.account_id = ordered.account_id;
-- Answers the MAX(joined_seq) of a join from the index, and keeps two
-- members from sharing a place.
CREATE UNIQUE INDEX room_members_joined_seq_key ON room_members (room_id, joined_seq);
