"""Every place loadgen leans on another library's private internals, each beside its plain twin.

Most are speed tricks on the load generator's and the sandbox's hot paths; one (``hypothesis_seed``)
is the only way to get a Hypothesis behaviour that has no public switch. The rules that keep them safe:

- each module documents why, what it replaces (the plain version, kept here) and the library versions
  it was checked against; ``pyproject.toml`` pins that library to the checked range;
- ``tests/test_fast.py`` checks that each fast version gives what its plain twin gives on many inputs;
- ``bench/fast.py`` measures each against its twin (interleaved rounds, paired ratios), and a trick the
  bench cannot justify is dropped.

| module | library internals | replaces |
|---|---|---|
| ``http_head`` | geventhttpclient ``HTTPClient._build_request``, ``_connection_pool`` | ``HTTPClient.request`` |
| ``hdr`` | hdrh ``HdrHistogram.counts`` and its layout fields | ``HdrHistogram.record_value`` |
| ``json_text`` | CPython ``json.encoder.c_make_encoder`` | ``json.dumps(..., separators=...)`` |
| ``builder`` | (none: our own generated code, ``exec``) | a loop over the generators |
| ``csv_rows`` | (none: our own generated code, ``exec``) | a loop over a CSV row's generators |
| ``hypothesis_seed`` | Hypothesis ``_hypothesis_internal_use_seed``, ``..._database_key`` | ``@seed`` |

One reliance stays outside, because it is a whole module's idea rather than a trick: ``loadgen/_pools.py``
reads Faker's locale data tables (``first_names_male``...) to draw names without calling Faker per field
(faker pinned ``>=40,<42``; tests/test_profiles.py checks the names and locales it yields).

Nothing is imported here: each caller imports the one module it needs, so the sandbox never pulls in
geventhttpclient and ``import loadgen`` stays light.
"""
