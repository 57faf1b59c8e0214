-- Events and policies. Events: what happened to tokens (expiring, expired,
-- revoked, leaked, reused, ...), in the outbox tokens.events, announced by
-- NOTIFY pg_tokens_events with the event's id when the transaction that
-- wrote it commits. A consumer LISTENs, reads what is newer than the last id
-- it handled, acts (mail, chat, a ticket), then acknowledges.
-- (Tokens are interpolated here only because this is an example: in an
-- application, bind them as parameters.)

-- The listener: any role granted tokens_reader. psql prints each
-- notification as it arrives ("Asynchronous notification ... with payload
-- "<id>" received"); a program waits on its connection (psycopg's
-- conn.notifies(), node-postgres' client.on('notification'), JDBC's
-- PGConnection.getNotifications()).
SET ROLE example_admin;
LISTEN pg_tokens_events;

SELECT token AS old_token, id AS old_id
  FROM tokens.mint('example: deploy key', owner => 'group:platform',
                   expires_at => now() + interval '5 days') \gset
-- A rotation with no grace, then a revoke: the notification for the
-- revoked event arrives when this statement's transaction commits.
SELECT id AS new_id FROM tokens.rotate(:'old_id', '0', actor => 'group:platform') \gset
SELECT tokens.revoke(:'new_id', actor => 'group:platform', reason => 'example');

-- The consumer's loop body: everything not handled yet, oldest first ...
SELECT id, kind, owner, detail FROM tokens.events ORDER BY id;
-- ... then, once handled (delivered to mail or chat), acknowledged. Events
-- not acknowledged go after pg_tokens.event_retention (30 days).
SELECT max(id) AS last_handled FROM tokens.events \gset
SELECT tokens.ack_events(:last_handled) AS acknowledged;
UNLISTEN pg_tokens_events;
RESET ROLE;

-- Policies, per database, by tokens_writer (audited as token.policy):
SET ROLE example_admin;
SELECT tokens.set_policy('max_lifetime', interval '90 days');   -- mint and rotate refuse a later or no expiry
SELECT tokens.set_policy('revoke_unused_after', '180 days');    -- the worker revokes idle tokens (reason inactive)
SELECT tokens.set_policy('revoke_on_reuse', true);              -- a rotated token presented after its grace disables its successor
SELECT name, value, default_value FROM tokens.policies;

-- A token that would live longer than 90 days is refused (22023) ...
DO $$
BEGIN
    PERFORM tokens.mint('example: forever', owner => 'group:platform');
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'refused: %', SQLERRM;
END
$$;
-- ... and presenting the rotated deploy key again is a sign it leaked:
-- verify says revoked, and a token.reused event names its successor.
SELECT status FROM tokens.verify(:'old_token');
SELECT kind, detail FROM tokens.events WHERE token_id = :'old_id';

-- Back to the defaults for the examples that follow.
SELECT tokens.set_policy(name, NULL::text) FROM tokens.policies;
RESET ROLE;
