"""Trials being tracked: `LiveTrial`, the bus that routes its events, the metric buffer,
the module-level verbs, `track`, resumable tasks, the ticker and orderly shutdown."""
