"""The action-plan PDF: data gathering (context.py), the SVG chart (charts.py), rendering (pdf.py).

Templates and CSS live in the top-level `reports/` folder (`app.paths.REPORT_TEMPLATES_DIR`).
"""
