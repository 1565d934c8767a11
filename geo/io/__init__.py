"""Files in and out: readers, coordinate systems, point checks, the import pipeline, exports."""
