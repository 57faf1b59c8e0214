-- pg_tokens: a random capped token per transaction, spending 1 credit(s).
\set g random(1, 100000)
SELECT (tokens.verify(token, '{}', 1)).valid FROM bench.sample WHERE g = :g;
