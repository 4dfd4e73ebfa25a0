"""The built-in sinks and meta providers, registered through this package's entry points.

They import only public votakvot modules (`plugins`, `events`, `meta`, `errors`), as a
third-party plug-in would: they are the proof that the plug-in contract is enough.
"""
