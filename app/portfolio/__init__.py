"""Funder portfolios: site-level aggregates only, built from stored scores (never raw responses).

- `params`: the page's filters and sort order, parsed from the request.
- `privacy`: the funder privacy rules (what may be shown of a cycle and a condition).
- `view`: the pure builder of what the pages, exports and JSON API show (`PortfolioView`).
- `schemas`: the result models, shared by the pages, the exports and the JSON API.
- `exports`: CSV and XLSX of the site table; `pdf`: the portfolio PDF.
- `sample`: synthetic responses for tests and benchmarks.

The queries are in `app.services.portfolio` (which calls the view builder).
"""
