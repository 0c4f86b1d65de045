"""`graphcrawl serve`: the crawl database in a browser, through Datasette.

Why Datasette: it is the SQLite ecosystem's standard browser and query UI
(by the author of sqlite-utils, which graphcrawl's store is built on): tables
with facets, SQL, canned queries, JSON and CSV of every view. graphcrawl only
adds what a crawl database needs: the schema's own documentation as
metadata (db/schema_docs.py), canned queries that use the reports'
definitions (queries.py), SQL functions that call the triage clustering
code, a failure-kind facet and links to repro commands and traces
(plugin.py). Datasette is optional (`pip install 'graphcrawl[serve]'`): only
server.py and plugin.py import it; links.py and queries.py do not, so the
HTML report can link into the served views without it.
"""
