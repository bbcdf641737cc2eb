"""The action-plan PDF: the report's data (models.py), the pure rules that build it from stored
data (context.py), the SVG chart (charts.py) and rendering (pdf.py). The queries that gather the
stored data are in `app.services.reports`.

Templates and CSS live in the top-level `reports/` folder (`app.paths.REPORT_TEMPLATES_DIR`).
"""
