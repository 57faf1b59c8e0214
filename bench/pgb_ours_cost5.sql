-- pg_tokens: a random capped token per transaction, spending 5 credit(s).
\set g random(1, 100000)
SELECT (tokens.verify(token, '{}', 5)).valid FROM bench.sample WHERE g = :g;
