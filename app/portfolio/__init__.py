"""Funder portfolios: site-level aggregates only, built from stored scores (never raw responses).

- `service`: the set-based queries and the privacy rules (`portfolio_view`, `list_portfolios`).
- `schemas`: the result models, shared by the pages, the exports and the JSON API.
- `exports`: CSV and XLSX of the site table; `pdf`: the portfolio PDF.
"""
