"""Reports rendered from `storage.reports` figures: Jinja2 templates to HTML, WeasyPrint to
PDF, matplotlib charts as SVG. The templates sit beside this module (package data)."""
