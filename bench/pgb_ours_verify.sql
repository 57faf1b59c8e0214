-- pg_tokens: a random token per transaction.
\set g random(1, 100000)
SELECT (tokens.verify(token)).valid FROM bench.sample WHERE g = :g;
