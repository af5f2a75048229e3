"""A fuzzing harness for eifkit's reading commands (issue 11, "Keep it fixed").

It mutates EIFs and runs every command that reads one, in-process, through
``eifkit.cli.main(argv)`` only, checking what eifkit promises on untrusted input:

* no exception escapes ``main`` and the exit code is 0, 1 or 2;
* on exit 2, stderr is one ``eifkit: error:`` line (``eifkit: warning:`` lines may come
  first) and never a ``Traceback``;
* peak Python memory of one run (``tracemalloc``) stays under 100 MiB;
* ``extract`` and ``extract --unpack`` create nothing outside their folder, change
  nothing outside it, and leave no symlink in it that resolves outside it;
* ``sign`` into a new path leaves its input alone and, when it fails, nothing at the
  output path.

Modules:

``eiffile``   split an EIF into sections and put it back together (independent of
              eifkit's reader and writer; offsets from ``eifkit.format.HEADER``)
``mutators``  deterministic, seeded mutations of an EIF: header fields at boundary
              values, section table pointing past EOF / into the header / overlapping,
              truncation at every structural boundary, section header fields, byte flips
``hostile``   hostile section contents: cpio ramdisks (``..``, absolute and NUL names,
              huge namesize/filesize, long symlink targets, a symlink then a directory of
              the same name ...), CBOR garbage for the signature section, JSON garbage for
              the metadata section, odd cmdlines and kernels
``bombs``     small-on-disk bombs that expand to at most 128 MiB (their own CI test)
``cases``     the catalogue: every case has a stable id and builds its EIF from a base
``runner``    runs the commands on one EIF and turns what went wrong into ``Finding``s
``known``     findings already filed in issue 11 (the CI test marks them xfail)
``longrun``   the long local run behind ``scripts/fuzz``

The short seeded run is ``tests/test_fuzz.py`` (CI, under a minute); the long run is
``nice -n 10 scripts/fuzz --minutes 20 --seed 1 --out /tmp/fuzz-findings``.
Peak memory is Python's (``tracemalloc``), which also makes each run several times
slower than without it: read run times in the long run as upper bounds.
"""
