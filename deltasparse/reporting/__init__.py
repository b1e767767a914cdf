"""Reporting: tables, plots and the run loader."""
