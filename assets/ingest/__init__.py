"""Ingestion: landing files to bronze Delta tables, once, each row loaded or quarantined."""
