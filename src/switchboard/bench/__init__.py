"""`make bench`: the performance suite (docs/performance.md).

`python -m switchboard.bench` seeds its own data in throw-away databases, runs the real
processes over loopback (`mivb-sim`, `switchboard serve`, `switchboard worker`), prints a
table of the figures and writes them to `bench/results.json`. Quick sizes by default,
`BENCH_FULL=1` for the full sizes of issue 13."""
