"""Renderers: terminal (rich), JSON, Markdown/HTML, JUnit XML, Prometheus textfile, plots."""
