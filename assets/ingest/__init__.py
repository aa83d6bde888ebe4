"""Ingestion: landing files -> bronze Delta tables, exactly once, every row loaded or quarantined."""
