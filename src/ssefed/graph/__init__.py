"""The RDF projection of the database, on disk (pyoxigraph), and SPARQL over it.

The database is the source of truth: the projection is kept in step with it
(``projection``), queries are checked (``queries``) and then run in a child process
with a time and a memory limit (``child``, ``runner``).
"""
