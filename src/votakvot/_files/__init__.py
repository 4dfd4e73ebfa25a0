"""The on-disk format: file names in a trial folder, the stores that hold folders, and the
YAML and pickle formats (which are also the built-in serializers)."""
