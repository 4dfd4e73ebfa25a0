"""Process-wide state: the settings from `init`, the registry of everything else a process
holds (one reset, one after-fork hook), and pauses of the garbage collector."""
