"""`cnnprov ui`: a local, read-only web app over a provenance store or a SPARQL endpoint.

`data` reads through the public query API (a fresh read-only snapshot per request, the leaderboard cached by
the store files' fingerprint), `sparql` checks and runs a user's own query with a timeout, `server` is the HTTP
server and JSON API; the pages, scripts and styles are in `static/`, Plotly comes from the `plotly` package.
"""
