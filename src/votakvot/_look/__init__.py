"""The look: the report page (`write_report`) and the live dashboard (`serve_ui`) of a trial root."""
