"""Reading trials back: `votakvot.Trial`, finding trial folders, the report index and
`load_trials` / `load_report`."""
