"""The web UI of tanhui: Jinja2 templates (``templates/``) and local static assets (``static/``).

Templates are loaded as package data (``jinja2.PackageLoader("tanhui.web", "templates")``), so they
work from a wheel as well as from a source checkout; every asset is served locally, never from a CDN.
"""
