-- A metered API key: a trial token with 3 calls, then a plan of 1,000 calls
-- a day. Each successful verification spends one credit, whatever the
-- caller's transaction does afterwards; at zero, verify says usage_exceeded.
-- (Tokens are interpolated here only because this is an example: in an
-- application, bind them as parameters.)

SET ROLE example_app;

SELECT token AS trial_token, id AS trial_id
  FROM tokens.mint('example: trial', owner => 'group:trials') \gset
SELECT tokens.set_remaining(:'trial_id', 3);

SELECT status FROM tokens.verify(:'trial_token');
SELECT status FROM tokens.verify(:'trial_token');
SELECT status FROM tokens.verify(:'trial_token');
-- The fourth call: usage_exceeded (the token itself is still active).
SELECT valid, status FROM tokens.verify(:'trial_token');

-- The customer upgrades: 1,000 credits, set back to 1,000 every day from now.
SELECT tokens.set_remaining(:'trial_id', 1000, 1000, '1 day');
SELECT valid, status FROM tokens.verify(:'trial_token');
RESET ROLE;

SET ROLE example_admin;
SELECT name, status, remaining, refill_amount, refill_every
  FROM tokens.tokens WHERE id = :'trial_id';
RESET ROLE;
